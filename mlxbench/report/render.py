"""Tables as markdown (rounded, for people), CSV and JSON (unrounded, for programs).

CSV and JSON carry raw numbers (milliseconds, percentages) with empty/null for
n/a, so nothing read back depends on how the markdown rounds. A change that
markdown prints as ``~`` keeps its number there, and a ``<column> beats noise``
column beside it says whether it beat the noise.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from mlxbench.report.tables import Change, Table, Value

FORMATS = ("markdown", "csv", "json")
UNITS = {"ms": "ms", "pct": "%", "change": "%", "share": "%", "spread": "%", "ratio": "x"}
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


def _flat(table: Table) -> tuple[list[tuple[str, str | None]], list[list[Value | bool]]]:
    """(name, unit) per column and the raw rows, each change column followed by its ``beats noise`` flag."""
    columns: list[tuple[str, str | None]] = []
    for c in table.columns:
        columns.append((c.name, UNITS.get(c.kind)))
        if c.kind == "change":
            columns.append((f"{c.name} beats noise", None))
    rows = []
    for row in table.rows:
        cells: list[Value | bool] = []
        for c, v in zip(table.columns, row):
            cells.append(_raw(v))
            if c.kind == "change":
                cells.append(v.beats_noise if isinstance(v, Change) else None)
        rows.append(cells)
    return columns, rows


def csv_text(table: Table) -> str:
    buf = io.StringIO()
    buf.write(f"# {table.title}\n")
    writer = csv.writer(buf, lineterminator="\n")
    columns, rows = _flat(table)
    writer.writerow([name + (f" ({unit})" if unit else "") for name, unit in columns])
    for row in rows:
        writer.writerow(["" if v is None else str(v).lower() if isinstance(v, bool) else v for v in row])
    return buf.getvalue()


def json_doc(tables: Sequence[Table], skipped: Sequence[str]) -> dict:
    docs = []
    for t in tables:
        columns, rows = _flat(t)
        docs.append(
            {
                "kind": t.kind,
                "title": t.title,
                **t.meta,
                "notes": t.notes,
                "columns": [{"name": name, "unit": unit} for name, unit in columns],
                "rows": rows,
            }
        )
    return {"tables": docs, "skipped": list(skipped)}


def render(tables: Sequence[Table], fmt: str, skipped: Sequence[str] = ()) -> str:
    if fmt == "json":
        return json.dumps(json_doc(tables, skipped), indent=2)
    one = markdown if fmt == "markdown" else csv_text
    return "\n".join(one(t) for t in tables)
