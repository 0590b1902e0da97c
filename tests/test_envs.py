"""The conda environment files pin the same versions as requirements/lock.txt."""

from __future__ import annotations

import re

import pytest
import yaml

from runner import REPO


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_versions() -> dict[str, str]:
    versions = {}
    for line in (REPO / "requirements" / "lock.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            versions[normalise(name)] = version
    return versions


ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))


def test_there_are_env_files_for_every_rule_group() -> None:
    assert {p.stem for p in ENV_FILES} >= {"data", "simulation", "efp", "training"}


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_agree_with_lock(env_file) -> None:
    lock = lock_versions()
    env = yaml.safe_load(env_file.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip, f"{env_file.name} has no pip packages"
    for requirement in pip:
        name, sep, version = requirement.partition("==")
        assert sep, f"{env_file.name}: {requirement!r} is not pinned with =="
        assert normalise(name) in lock, f"{env_file.name}: {name} is not in the lock"
        assert lock[normalise(name)] == version, f"{env_file.name}: {name}=={version}, lock has {lock[normalise(name)]}"


def test_every_rule_names_an_env_file() -> None:
    for smk in (REPO / "rules").glob("*.smk"):
        text = smk.read_text()
        n_rules = len(re.findall(r"^rule \w+:", text, flags=re.M))
        n_conda = len(re.findall(r"^    conda:\n        \"\.\./envs/\w+\.yaml\"", text, flags=re.M))
        assert n_conda == n_rules, f"{smk.name}: {n_rules} rules but {n_conda} conda: directives"
