"""The tables across commits: a backend's history over its framework's releases, and the MLX/torch race.

Each builder takes a :class:`~mlxbench.report.index.ResultIndex` and a
:class:`~mlxbench.report.judgement.Judge` (every change is judged against the pair's noise floor)
and returns a :class:`~mlxbench.report.formatting.Table`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mlxbench.harness.backends import BACKENDS
from mlxbench.report import counts
from mlxbench.report.formatting import COLUMN_NAMES, FRAMEWORK_NAMES, Column, Table, backend_label, change, ratio
from mlxbench.report.index import ResultIndex
from mlxbench.report.judgement import Judge
from mlxbench.report.model import Point, Value, version_label
from mlxbench.report.notes import mode_note, noise_notes, points_notes
from mlxbench.report.snapshot import SPEEDUPS

RACES: tuple[tuple[str, str], ...] = tuple(
    (first, other)
    for first, other in SPEEDUPS
    if (BACKENDS[first].framework, BACKENDS[other].framework) == ("mlx", "torch")
)
"""(MLX backend, torch backend) pairs on the same kind of device (mlx_gpu/mps, mlx_gpu/cuda, mlx_cpu/cpu): the races.

The speedup pairs between the two frameworks, so a new backend joins the races as it joins the speedup columns."""


def history_points(index: ResultIndex, series: str, backend: str) -> list[Point]:
    """The backend's history columns: one per release of its framework, at the commit that measured most of it.

    Of equals the earliest, but the newest for the torch a pinned series holds fixed; a commit whose
    versions are unknown is its own column, headed by its name (docs/report-architecture.md).
    """
    framework = BACKENDS[backend].framework
    newest_first = framework == "torch" and index.mode(series) == "pinned"
    count = index.numbers(series, backend)
    best: dict[str, tuple[int, int, Point]] = {}
    for i, release in enumerate(index.releases_of(series)):
        if (series, release, backend) in index.measured:
            version = index.versions(series, release)[framework]
            label = version_label(framework, version) if version else release
            rank = (count.get(release, 0), i if newest_first else -i)
            if label not in best or rank > best[label][:2]:
                best[label] = (*rank, Point(label, release, version))
    return [point for *_, point in best.values()]  # a label keeps the place of its first commit


def race_points(index: ResultIndex, series: str, mlx_backend: str, torch_backend: str) -> list[str]:
    """Commits where both backends were measured, the earliest per (MLX, torch) pair: a race's columns."""
    out: dict[tuple[str | None, ...], str] = {}
    for release in index.releases_of(series):
        if all((series, release, b) in index.measured for b in (mlx_backend, torch_backend)):
            versions = index.versions(series, release)
            known = versions["mlx"] is not None and versions["torch"] is not None
            out.setdefault((versions["mlx"], versions["torch"]) if known else (release,), release)
    return list(out.values())


def races(index: ResultIndex, series: str) -> list[tuple[str, str]]:
    """The (MLX, torch) backend pairs of :data:`RACES` measured together at some commit of this series."""
    return [(a, b) for a, b in RACES if race_points(index, series, a, b)]


def _over_time(
    index: ResultIndex,
    judge: Judge,
    kind: str,
    series: str,
    title: str,
    labels: Sequence[str],
    releases: Sequence[str],
    notes: list[str],
) -> tuple[Table, list[tuple[int, int]]]:
    """An empty table of ops over the columns ``labels`` (measured at ``releases``), with a change after each
    column from the one before and, past two columns, from the first to the last; and those steps."""
    cell = "ms" if kind == "history" else "ratio"
    columns = [Column("Operation", "text")]
    for i, label in enumerate(labels):
        columns.append(Column(label, cell))
        if i:
            columns.append(Column(f"{labels[i - 1]}->{label} change", "change", inline=True))
    steps = [(i - 1, i) for i in range(1, len(labels))]
    if len(labels) > 2:
        columns.append(Column(f"{labels[0]}->{labels[-1]} change", "change"))
        steps.append((0, len(labels) - 1))
    pairs = {f"{labels[i]}->{labels[j]}": judge.pair(series, releases[i], releases[j]) for i, j in steps}
    s = index.series_by_id[series]
    meta = {
        "config": index.config(series),
        "machine": s.machine,
        "environment": s.env,
        "mode": s.mode,
        "dtype": s.dtype,
        "aggregation": index.query.how,
        "points": dict(zip(labels, releases)),
        "noise_floors": {
            name: {"fraction": pair.floor.fraction, "source": pair.floor.source} for name, pair in pairs.items()
        },
    }
    return Table(kind, title, notes + noise_notes(index, series, kind, pairs), columns, meta=meta), steps


def _timed_row(op: str, values: Sequence[Value], changes: Mapping[tuple[int, int], Value]) -> list[Value]:
    """A row of :func:`_over_time`'s columns: each value, then its change from the one before; first to last."""
    row: list[Value] = [op]
    for i, value in enumerate(values):
        row.append(value)
        if i:
            row.append(changes[(i - 1, i)])
    if len(values) > 2:
        row.append(changes[(0, len(values) - 1)])
    return row


def history(index: ResultIndex, judge: Judge, series: str, backend: str) -> Table:
    """The backend's ops across the releases of its framework (:func:`history_points`), changes judged."""
    how = index.query.how
    framework = BACKENDS[backend].framework
    name = FRAMEWORK_NAMES[framework]
    points = history_points(index, series, backend)
    labels, releases = [p.label for p in points], [p.release for p in points]
    notes = [
        f"Times in ms ({how} mean over each op's variants at the newest point); one column per {name} "
        "release this backend measured, at the commit that measured most of it; in parentheses the change in "
        f"runtime from the previous {name} release: negative is faster.",
        mode_note(index, series),
        *points_notes(index, series, backend, points),
    ]
    table, steps = _over_time(
        index,
        judge,
        "history",
        series,
        f"History: {index.label(series)}, {backend_label(backend)} across {name} releases",
        labels,
        releases,
        notes,
    )
    table.meta.update(backend=backend, framework=framework)
    consecutive: dict[tuple[str, int], Value] = {}
    for op, variants in index.ops_over(series, releases).items():
        values = [index.op_value(series, r, op, variants, backend) for r in releases]
        changes = {
            (i, j): counts.confirmed(
                judge.judged(
                    change(values[i], values[j]),
                    series,
                    op,
                    variants,
                    (releases[i], backend),
                    (releases[j], backend),
                    judge.pair(series, releases[i], releases[j]).floor,
                ),
                counts.counted_change(index, series, op, variants, releases[i], releases[j], backend),
            )
            for i, j in steps
        }
        consecutive.update({(op, j): changes[(i, j)] for i, j in steps if j == i + 1})
        table.rows.append(_timed_row(op, values, changes))
    table.notes += counts.history_notes(index, series, backend, releases, consecutive)
    return table


def race(index: ResultIndex, judge: Judge, series: str, mlx_backend: str, torch_backend: str) -> Table:
    """The MLX/torch time ratio of each op over the commits where both backends were measured."""
    releases = race_points(index, series, mlx_backend, torch_backend)
    mlx_name, torch_name = COLUMN_NAMES[mlx_backend], COLUMN_NAMES[torch_backend]
    stacks = {r: index.versions(series, r) for r in releases}
    notes = [
        f"t_{mlx_name} / t_{torch_name}: MLX's time over torch's on the same kind of device ({index.query.how} mean "
        "over each op's variants at the newest point, per backend); 2.00x means MLX takes twice torch's time, 0.50x "
        "half. One column per commit where both were measured (the earliest of each MLX/torch pair).",
        mode_note(index, series),
    ]
    if index.mode(series) == "timeline":
        notes.append(
            "Pairs: "
            + ", ".join(f"{r} = mlx {stacks[r]['mlx'] or '?'} + torch {stacks[r]['torch'] or '?'}" for r in releases)
            + "."
        )
    title = f"Race: {index.label(series)}, {mlx_name} vs {torch_name}"
    table, steps = _over_time(index, judge, "race", series, title, releases, releases, notes)
    table.meta.update(
        mlx_backend=mlx_backend,
        torch_backend=torch_backend,
        stacks={r: {"mlx": v["mlx"], "torch": v["torch"]} for r, v in stacks.items()},
    )
    pair = (mlx_backend, torch_backend)
    for op, variants in index.ops_over(series, releases).items():
        values = [ratio(*(index.op_value(series, r, op, variants, b) for b in pair)) for r in releases]
        changes = {(i, j): judge.race_change(series, op, variants, releases[i], releases[j], pair) for i, j in steps}
        table.rows.append(_timed_row(op, values, changes))
    return table
