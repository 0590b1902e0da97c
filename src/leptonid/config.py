"""Checks of the workflow configuration against its JSON schema, with clear messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml


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


def config_problems(config: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """One line per problem, each naming the config key, e.g. ``config key 'split.chunk_events': ...``."""
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


def check_config(config: dict[str, Any], schema_path: str | Path) -> None:
    """Raise ``ValueError`` listing every problem of ``config``; do nothing when it is valid."""
    problems = config_problems(config, load_schema(schema_path))
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ValueError(f"invalid configuration ({len(problems)} problem(s)):\n{lines}")
