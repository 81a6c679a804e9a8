"""The counted series beside time: a backend's instructions across releases, and what they say of time's changes.

A count does not move with the host (docs/method.md, "Counted instructions"), so a counted change
is any beyond :data:`COUNT_CHANGE` and needs no noise floor. A time change that beat the noise is
*confirmed* where the instructions moved the same way beyond :data:`CONFIRMS`, *unconfirmed* where
they did not; a counted change beyond it with no time change is listed in the time table's notes.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlxbench.harness import counting
from mlxbench.harness.backends import BACKENDS
from mlxbench.harness.benchmark_names import INSTRUCTIONS
from mlxbench.report.formatting import FRAMEWORK_NAMES, Change, Column, Table, aggregate, backend_label, change
from mlxbench.report.index import ResultIndex
from mlxbench.report.model import Key, Value
from mlxbench.report.notes import mode_note

COUNT_CHANGE = counting.CHANGE * 100
"""Percent: a counted change beyond this and :data:`~mlxbench.harness.counting.MIN_CHANGE` is taken as real."""
CONFIRMS = 0.5
"""Percent: the counted change that confirms a time change in the same direction."""


def op_count(index: ResultIndex, series: str, release: str, op: str, variants: Sequence[str], backend: str) -> Value:
    """The op's instructions per call over ``variants``, in millions, aggregated as the query asks; None if any
    variant was not counted there."""
    counts = [index.count(Key(series, release, op, v, backend), INSTRUCTIONS) for v in variants]
    if not counts or any(c is None for c in counts):
        return None
    return aggregate([c / 1e6 for c in counts], index.query.how)  # type: ignore[operator]


def counted_change(
    index: ResultIndex, series: str, op: str, variants: Sequence[str], before: str, after: str, backend: str
) -> Value:
    """The op's counted change in percent from ``before`` to ``after``, called where its mean over the variants
    moved (:func:`~mlxbench.harness.counting.changed`)."""
    old = op_count(index, series, before, op, variants, backend)
    new = op_count(index, series, after, op, variants, backend)
    value = change(old, new)
    if not (isinstance(value, float) and isinstance(old, float) and isinstance(new, float)):
        return value
    return Change(value, counting.changed(old * 1e6, new * 1e6))


def confirmed(time_change: Value, counted: Value) -> Value:
    """A time change that beat the noise, marked ``confirmed`` where the counts moved the same way beyond
    CONFIRMS and ``unconfirmed`` where they did not; anything else as it is (nothing counted: no mark)."""
    if not (isinstance(time_change, Change) and time_change.beats_noise and isinstance(counted, float)):
        return time_change
    same_way = counted * time_change > 0 and abs(counted) > CONFIRMS
    return Change(time_change, True, "confirmed" if same_way else "unconfirmed")


def counted_backends(index: ResultIndex, series: str) -> list[str]:
    """The series' backends with counted results (CPU backends measured with ``--metric instructions``)."""
    return [b for b in index.backends_of(series) if index.counted_releases(series, b)]


def history(index: ResultIndex, series: str, backend: str) -> Table:
    """The backend's ops across the releases it was counted at: millions of instructions per call and changes."""
    releases = index.counted_releases(series, backend)
    name = FRAMEWORK_NAMES[BACKENDS[backend].framework]
    labels = list(releases)  # one column per counted commit, named by its timeline tag
    columns = [Column("Operation", "text")]
    for i, label in enumerate(labels):
        columns.append(Column(label, "count"))
        if i:
            columns.append(Column(f"{labels[i - 1]}->{label} change", "fine_change", inline=True))
    notes = [
        f"Instructions per call in millions ({index.query.how} mean over each op's variants), one warm call of the "
        "timed body counted by valgrind's callgrind; one column per release counted. A change beyond "
        f"{COUNT_CHANGE:g}% is called whatever the host did (two counts of one call agree within a few hundredths "
        "of a percent); `~` is none.",
        mode_note(index, series),
    ]
    title = f"Counted: {index.label(series)}, {backend_label(backend)} across {name} releases"
    table = Table("counted", title, notes, columns, meta={"backend": backend, "points": dict(zip(labels, releases))})
    ops: dict[str, list[str]] = {}
    for release in reversed(releases):
        for op, variants in index.counted_variants(series, release, backend).items():
            ops.setdefault(op, variants)
    for op, variants in sorted(ops.items()):
        row: list[Value] = [op]
        for i, release in enumerate(releases):
            row.append(op_count(index, series, release, op, variants, backend))
            if i:
                row.append(counted_change(index, series, op, variants, releases[i - 1], release, backend))
        table.rows.append(row)
    return table


def history_notes(
    index: ResultIndex, series: str, backend: str, releases: Sequence[str], time_changes: dict[tuple[str, int], Value]
) -> list[str]:
    """The time history's notes on its counts: what ✓ and ? mean, and the counted changes beyond CONFIRMS between
    consecutive ``releases`` whose time change did not beat the noise; none where nothing was counted.

    ``time_changes`` maps (op, index of the later release) to the time table's judged change.
    """
    if not index.counted_releases(series, backend):
        return []
    silent = []
    for (op, j), timed in sorted(time_changes.items(), key=lambda item: (item[0][1], item[0][0])):
        if isinstance(timed, Change) and timed.beats_noise:
            continue
        variants = index.counted_variants(series, releases[j], backend).get(op, [])
        counted = counted_change(index, series, op, variants, releases[j - 1], releases[j], backend)
        if isinstance(counted, float) and abs(counted) > CONFIRMS:
            silent.append(f"{op} {releases[j - 1]}->{releases[j]} {counted:+.1f}% instructions")
    notes = [
        f"✓: the change is confirmed by the counted instructions (they moved the same way, beyond {CONFIRMS:g}%); "
        "?: unconfirmed, the counts did not (the host, or memory stalls the count cannot see)."
    ]
    if silent:
        notes.append("Counted changes with no time change beyond the noise: " + "; ".join(silent) + ".")
    return notes
