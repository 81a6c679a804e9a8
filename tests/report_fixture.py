"""The report fixture (two releases of ``fixture-cpu``, as ASV stores them) and how tests read and plant into it."""

from __future__ import annotations

import json
from pathlib import Path

from mlxbench.catalog import CATALOG
from mlxbench.harness.asv_suite import benchmark_version
from mlxbench.harness.benchmark_names import COUNTED, CYCLES, INSTRUCTIONS, LL_MISSES
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


def plant_counts(root: Path, tags: dict[str, str], release: str, op: str, backend: str, scale: float = 1.0) -> None:
    """Counted results of ``op`` on ``backend`` at ``release`` as ASV stores them: 1e6 x (variant + 1) x scale."""
    path = result_file(root, tags, release)
    doc = json.loads(path.read_text())
    columns = doc["result_columns"]
    template = dict(zip(columns, doc["results"][f"ops.{op}.time_{backend}"]))
    n = len(template["params"][0])
    for kind in COUNTED:
        entry = {c: None for c in columns}
        version = benchmark_version(CATALOG[op], backend, kind)
        entry.update(params=template["params"], version=version, started_at=template.get("started_at"))
        base = {INSTRUCTIONS: 1e6, LL_MISSES: 1e3, CYCLES: 2e6}[kind]
        entry["result"] = [round(base * (i + 1) * scale) for i in range(n)]
        doc["results"][f"ops.{op}.{kind}_{backend}"] = [entry[c] for c in columns]
    path.write_text(json.dumps(doc))
