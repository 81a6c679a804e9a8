"""Tables as markdown and HTML (rounded, for people), CSV and JSON (unrounded, for programs).

CSV and JSON carry raw numbers (milliseconds, percentages) with empty/null for
n/a, so nothing read back depends on how the markdown rounds. A change that
markdown prints as ``~`` keeps its number there, and a ``<column> beats noise``
column beside it says whether it beat the noise. HTML shows what markdown
shows, with each ``~``'s number on hover and the changes classed by direction
(the chip pages of the published site are made of it).
"""

from __future__ import annotations

import csv
import html as html_lib
import io
import json
from collections.abc import Callable, Sequence

from mlxbench.report.formatting import Change, Column, Table, format_pct
from mlxbench.report.model import Value
from mlxbench.report.plots import slug

FORMATS = ("markdown", "csv", "json", "html")
UNITS = {
    "ms": "ms",
    "pct": "%",
    "change": "%",
    "fine_change": "%",
    "share": "%",
    "spread": "%",
    "ratio": "x",
    "count": "M instructions",
}
JUDGED = ("change", "fine_change")
"""Column kinds whose cells carry a noise verdict (csv and json add it beside them)."""
"""Column kind -> unit added to CSV/JSON headers (rate columns name theirs)."""


MARKDOWN_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\[]<!#"})
"""Characters a contributed string (a machine name, a field) could use to make markdown links, HTML or headings."""
CELL_SPECIAL = str.maketrans({"|": "\\|"})
"""And in a table cell, the pipe that would end it."""


def md_text(text: str, cell: bool = False) -> str:
    """Plain text for markdown: links, HTML, headings and line breaks escaped (in a ``cell``, pipes too)."""
    out = " ".join(str(text).split()).translate(MARKDOWN_SPECIAL)
    return out.translate(CELL_SPECIAL) if cell else out


def markdown(table: Table, said: set[str] | None = None) -> str:
    """A table as markdown: its title, notes and rows, every string escaped (:func:`md_text`).

    ``said`` holds the notes printed above it in the same output: those are
    counted, not repeated, and its own new ones are added.
    """
    header = [md_text(c.name, cell=True) for c in table.columns if not c.inline]
    notes = [md_text(note) for note in table.notes]
    if said is not None:
        above = [note for note in notes if note in said]
        said.update(notes)
        notes = [note for note in notes if note not in above]
        if above:
            notes.append(f"And {len(above)} note(s) as above.")
    lines = [
        f"### {md_text(table.title)}",
        "",
        *notes,
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in table.rows:
        cells: list[str] = []
        for col, value in zip(table.columns, row):
            text = md_text(col.format(value), cell=True)
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
        if c.kind in JUDGED:
            columns.append((f"{c.name} beats noise", None))
    rows = []
    for row in table.rows:
        cells: list[Value | bool] = []
        for c, v in zip(table.columns, row):
            cells.append(_raw(v))
            if c.kind in JUDGED:
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


Link = Callable[[Sequence[Value], int], str | None]
"""``link(row, i)``: where cell ``i`` of ``row`` points (a page's own choice), or None for plain text."""


def _inline_code(text: str) -> str:
    """Escaped text with markdown's `code` spans as <code>: the notes are written for markdown first."""
    parts = html_lib.escape(text, quote=False).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _cell_html(col: Column, value: Value) -> str:
    """One value as markup: a change classed ``up``/``down`` by its sign, or ``noise`` (``~``, its number on hover)."""
    text = html_lib.escape(col.format(value))
    if col.kind not in JUDGED or not isinstance(value, float):
        return text
    if isinstance(value, Change) and not value.beats_noise:
        return f'<span class="change noise" title="{format_pct(value)}: within the noise">{text}</span>'
    return f'<span class="change {"up" if value > 0 else "down"}">{text}</span>'


def html(table: Table, link: Link | None = None) -> str:
    """A table as an HTML fragment: its title, notes and table, cells as markdown prints them.

    An inline column joins the cell before it in parentheses, as in markdown.
    ``link`` makes cells links (the chip pages point each op's times at its
    ASV graph).
    """
    header = [c for c in table.columns if not c.inline]
    lines = [
        f'<section class="table {table.kind}">',
        f'<h3 id="{slug(table.title)}">{html_lib.escape(table.title)}</h3>',
        *(f'<p class="note">{_inline_code(note)}</p>' for note in table.notes if note),
        f'<div class="scroll"><table class="report {table.kind}">',
        "<thead><tr>" + "".join(f"<th>{html_lib.escape(c.name)}</th>" for c in header) + "</tr></thead>",
        "<tbody>",
    ]
    for row in table.rows:
        cells: list[str] = []
        for i, (col, value) in enumerate(zip(table.columns, row)):
            markup = _cell_html(col, value)
            href = link(row, i) if link else None
            if href:
                markup = f'<a href="{html_lib.escape(href)}">{markup}</a>'
            if col.inline:
                if col.format(value) != "n/a":
                    cells[-1] += f" ({markup})"
            else:
                cells.append(markup)
        head, *rest = cells  # the op (or first) column heads its row, so it can stay in view while the table scrolls
        lines.append(f'<tr><th scope="row">{head}</th>' + "".join(f"<td>{c}</td>" for c in rest) + "</tr>")
    lines += ["</tbody>", "</table></div>", "</section>"]
    return "\n".join(lines) + "\n"


def render(tables: Sequence[Table], fmt: str, skipped: Sequence[str] = ()) -> str:
    """``tables`` in one format; markdown, read top to bottom, says each note once (csv and json keep every table's)."""
    if fmt == "json":
        return json.dumps(json_doc(tables, skipped), indent=2)
    if fmt == "markdown":
        said: set[str] = set()
        return "\n".join(markdown(t, said) for t in tables)
    one = {"csv": csv_text, "html": html}[fmt]
    return "\n".join(one(t) for t in tables)
