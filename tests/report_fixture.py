"""The report fixture (two releases of ``fixture-cpu``, as ASV stores them) and how tests read and plant into it."""

from __future__ import annotations

from pathlib import Path

from mlxbench.report import render

FIXTURE = Path(__file__).parent / "fixtures" / "results"
MACHINE = "fixture-cpu"


def result_file(root: Path, tags: dict[str, str], release: str) -> Path:
    """The fixture machine's result file of ``release`` under the results folder ``root``."""
    (path,) = (root / MACHINE).glob(f"{tags[release][:8]}-*.json")
    return path


def row(table, op: str) -> dict[str, str]:
    """The markdown row of ``op`` as heading -> cell text."""
    lines = render.markdown(table).splitlines()
    header = next(line for line in lines if line.startswith("| Operation"))
    names = [c.strip() for c in header.strip("|").split("|")]
    cells = next(line for line in lines if line.startswith(f"| {op} |"))
    return dict(zip(names, (c.strip() for c in cells.strip("|").split("|"))))
