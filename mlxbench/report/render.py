"""Tables as markdown (rounded, for people), CSV and JSON (unrounded, for programs).

CSV and JSON carry raw numbers (milliseconds, percentages) with empty/null for
n/a, so nothing read back depends on how the markdown rounds.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from mlxbench.report.tables import Table, Value

FORMATS = ("markdown", "csv", "json")
UNITS = {"ms": "ms", "pct": "%", "share": "%", "spread": "%"}
"""Column kind -> unit added to CSV/JSON headers (rate columns name theirs)."""


def markdown(table: Table) -> str:
    header = [c.name for c in table.columns if not c.inline]
    lines = [
        f"### {table.title}",
        "",
        *table.notes,
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in table.rows:
        cells: list[str] = []
        for col, value in zip(table.columns, row):
            text = col.format(value)
            if col.inline:
                if text != "n/a":
                    cells[-1] += f" ({text})"
            else:
                cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _raw(value: Value) -> Value:
    return round(value, 6) if isinstance(value, float) else value


def csv_text(table: Table) -> str:
    buf = io.StringIO()
    buf.write(f"# {table.title}\n")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.name + (f" ({UNITS[c.kind]})" if c.kind in UNITS else "") for c in table.columns])
    for row in table.rows:
        writer.writerow(["" if v is None else _raw(v) for v in row])
    return buf.getvalue()


def json_doc(tables: Sequence[Table], skipped: Sequence[str]) -> dict:
    return {
        "tables": [
            {
                "kind": t.kind,
                "title": t.title,
                **t.meta,
                "notes": t.notes,
                "columns": [{"name": c.name, "unit": UNITS.get(c.kind)} for c in t.columns],
                "rows": [[_raw(v) for v in row] for row in t.rows],
            }
            for t in tables
        ],
        "skipped": list(skipped),
    }


def render(tables: Sequence[Table], fmt: str, skipped: Sequence[str] = ()) -> str:
    if fmt == "json":
        return json.dumps(json_doc(tables, skipped), indent=2)
    one = markdown if fmt == "markdown" else csv_text
    return "\n".join(one(t) for t in tables)
