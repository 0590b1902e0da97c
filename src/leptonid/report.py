"""The run's summary page: one Markdown file that gathers what each stage wrote."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping


def _demote(markdown: str, levels: int = 1) -> str:
    """Push every heading of ``markdown`` down by ``levels`` so it nests under ours."""
    lines = []
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("#"):
            line = "#" * levels + line
        lines.append(line)
    return "\n".join(lines)


def build_report(
    title: str,
    sections: Mapping[str, str | Path],
    figures: Mapping[str, str | Path],
    output: str | Path,
    config_summary: Mapping[str, object] | None = None,
) -> str:
    """Markdown report: each section is the content of a Markdown file, figures are linked relative to ``output``.

    ``sections`` maps a heading to a Markdown file written by an earlier rule
    (missing files are an error: the DAG guarantees they exist).
    """
    out_dir = Path(output).parent
    parts = [f"# {title}", ""]
    if config_summary:
        parts += ["## Configuration", ""] + [f"- `{k}`: {v}" for k, v in config_summary.items()] + [""]
    for heading, path in sections.items():
        text = Path(path).read_text()
        parts += [f"## {heading}", "", f"_From `{path}`._", "", _demote(_demote(text)), ""]
    if figures:
        parts += ["## Figures", ""]
        for caption, path in figures.items():
            rel = os.path.relpath(path, out_dir)
            parts += [f"### {caption}", "", f"![{caption}]({rel})", ""]
    return "\n".join(parts)
