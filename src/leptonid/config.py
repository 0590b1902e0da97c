"""Checks of the workflow configuration, with messages that name the config key.

Two layers: the JSON schema (``schemas/config.schema.yaml``: types, ranges,
unknown keys) and checks the schema cannot express because their facts live
in the library (the known feature sets) or on disk (the data files).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from leptonid.feature_sets import FEATURE_SETS


def load_schema(path: str | Path) -> dict[str, Any]:
    """Read a YAML/JSON schema file."""
    with open(path) as f:
        return yaml.safe_load(f)


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        parts.append(",".join(extra))
    elif error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        parts.append(missing)
    return ".".join(parts) or "(top level)"


def schema_problems(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """One line per schema violation, each naming the config key, e.g. ``config key 'split.chunk_events': ...``."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    problems = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))):
        key = _key_path(error)
        if error.validator == "additionalProperties":
            message = "unknown key (not in schemas/config.schema.yaml)"
        elif error.validator == "required":
            message = "required here but missing"
        else:
            message = error.message
        problems.append(f"config key '{key}': {message}")
    return problems


def feature_set_problems(config: Mapping[str, Any]) -> list[str]:
    """Feature-set names in ``training.feature_sets`` and ``training.models`` that the library does not know."""
    training = config.get("training") or {}
    known = ", ".join(FEATURE_SETS)
    problems = []
    for i, name in enumerate(training.get("feature_sets") or []):
        if isinstance(name, str) and name not in FEATURE_SETS:
            problems.append(f"config key 'training.feature_sets.{i}': unknown feature set {name!r}; known: {known}")
    for name in training.get("models") or {}:
        if name not in FEATURE_SETS:
            problems.append(f"config key 'training.models.{name}': unknown feature set {name!r}; known: {known}")
    for i, name in enumerate((config.get("tune") or {}).get("feature_sets") or []):
        if isinstance(name, str) and name not in FEATURE_SETS:
            problems.append(f"config key 'tune.feature_sets.{i}': unknown feature set {name!r}; known: {known}")
    return problems


def search_problems(config: Mapping[str, Any]) -> list[str]:
    """Settings of the guided search that contradict the rest of the config."""
    search = config.get("search") or {}
    problems = []
    reference = search.get("reference")
    if isinstance(reference, str):
        if reference not in FEATURE_SETS:
            problems.append(f"config key 'search.reference': unknown feature set {reference!r}; known: {', '.join(FEATURE_SETS)}")
        elif "efps" in FEATURE_SETS[reference] or reference == search.get("base", "hl"):
            problems.append(f"config key 'search.reference': {reference!r} cannot guide the search (it is its base or its result)")
    base = search.get("base", "hl")
    for i, name in enumerate((config.get("training") or {}).get("feature_sets") or []):
        if name in FEATURE_SETS and "efps" in FEATURE_SETS[name] and name != f"{base}_and_efps":
            problems.append(
                f"config key 'training.feature_sets.{i}': {name!r} needs the guided search from base "
                f"{name.removesuffix('_and_efps')!r}, but search.base is {base!r}"
            )
    efp_images = (config.get("efp") or {}).get("images", ["et", "ht"])
    for image in search.get("images") or []:
        if image not in efp_images:
            problems.append(
                f"config key 'search.images': {image!r} has no EFPs in this run (efp.images is {list(efp_images)})"
            )
    return problems


def data_path_problems(config: Mapping[str, Any], base: str | Path = ".") -> list[str]:
    """Input files named by ``data:`` that do not exist (relative paths are taken from ``base``)."""
    data = config.get("data") or {}
    if data.get("source") != "file":
        return []
    problems = []
    for key in ("path", "unscaled_path"):
        value = data.get(key)
        if not isinstance(value, str) or not value:
            continue
        path = Path(value) if Path(value).is_absolute() else Path(base) / value
        if not path.is_file():
            what = "is not a file" if path.exists() else "does not exist"
            problems.append(f"config key 'data.{key}': {value} {what}")
    return problems


def download_problems(config: Mapping[str, Any]) -> list[str]:
    """Settings of ``data: {source: url}`` that contradict each other."""
    data = config.get("data") or {}
    if data.get("source") != "url":
        return []
    problems = []
    if data.get("unscaled_sha256") and not data.get("unscaled_url"):
        problems.append("config key 'data.unscaled_sha256': given, but data.unscaled_url is not set")
    url, unscaled = data.get("url"), data.get("unscaled_url")
    if isinstance(url, str) and url and url == unscaled:
        problems.append(f"config key 'data.unscaled_url': the same URL as data.url ({url})")
    return problems


def _default(schema: Mapping[str, Any], section: str, key: str) -> Any:
    return schema.get("properties", {}).get(section, {}).get("properties", {}).get(key, {}).get("default")


def chunk_problems(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Chunk counts larger than the data, where the size of the data is known from the config (synthetic)."""
    data = config.get("data") or {}
    n_chunks = (config.get("efp") or {}).get("n_chunks", _default(schema, "efp", "n_chunks"))
    events = data.get("synthetic_events", _default(schema, "data", "synthetic_events"))
    if data.get("source") != "synthetic" or not isinstance(n_chunks, int) or not isinstance(events, int):
        return []
    if n_chunks > events:
        return [f"config key 'efp.n_chunks': {n_chunks} chunks per split, more than the {events} events "
                "of a split (data.synthetic_events)"]
    return []


def config_problems(config: Mapping[str, Any], schema: Mapping[str, Any], base: str | Path = ".") -> list[str]:
    """Every problem of ``config``: schema violations, unknown feature sets, search settings, data files, chunks."""
    return (
        schema_problems(config, schema)
        + feature_set_problems(config)
        + search_problems(config)
        + data_path_problems(config, base)
        + download_problems(config)
        + chunk_problems(config, schema)
    )


def check_config(config: Mapping[str, Any], schema_path: str | Path, base: str | Path = ".") -> None:
    """Raise ``ValueError`` listing every problem of ``config``; do nothing when it is valid."""
    problems = config_problems(config, load_schema(schema_path), base)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ValueError(f"invalid configuration ({len(problems)} problem(s)):\n{lines}")
