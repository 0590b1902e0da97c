"""The README's configuration reference is generated from the schema and agrees with it."""

from __future__ import annotations

import pytest

from leptonid.config_reference import END, START, load_schema, main, render, replace_section
from runner import REPO


def leaf_keys(node, prefix=""):
    for name, child in node.get("properties", {}).items():
        if child.get("type") == "object" and child.get("properties"):
            yield from leaf_keys(child, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def test_readme_reference_matches_the_schema() -> None:
    readme = (REPO / "README.md").read_text()
    expected = replace_section(readme, render(load_schema()))
    assert readme == expected, "README.md is out of date: run  python -m leptonid.config_reference README.md"


def test_every_key_of_the_schema_has_a_row_with_its_default() -> None:
    schema = load_schema()
    text = render(schema)
    keys = list(leaf_keys(schema))
    assert len(keys) > 50
    for key in keys:
        assert f"| `{key}` |" in text, key
    assert "| `training.defaults.learning_rate` | number > 0 < 1 | `0.001` |" in text
    assert "| `efp.kappas` | list of number, at least 1 item | `[-1, 0, 0.5, 1, 2]` |" in text
    assert "| `report.split` | one of: `train`, `valid`, `test` | `test` |" in text


def test_check_mode_and_markers(tmp_path, capsys) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{START}\nold\n{END}\n\ntail\n")
    assert main([str(readme), "--check"]) == 1
    assert "differs from" in capsys.readouterr().err
    assert main([str(readme)]) == 0
    assert main([str(readme), "--check"]) == 0
    text = readme.read_text()
    assert text.startswith("# x\n") and text.endswith(f"{END}\n\ntail\n") and "#### `data`" in text
    readme.write_text("# no markers\n")
    assert main([str(readme)]) == 1
    assert "needs exactly one pair of markers" in capsys.readouterr().err
    with pytest.raises(ValueError, match="markers"):
        replace_section(f"{END}{START}", "x")
