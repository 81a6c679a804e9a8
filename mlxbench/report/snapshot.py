"""The tables of one release: average per op, detailed per variant, and bfloat16 against float16.

Each builder takes a :class:`~mlxbench.report.index.ResultIndex` (and, where speedups are judged,
a :class:`~mlxbench.report.judgement.Judge`) and returns a :class:`~mlxbench.report.formatting.Table`;
docs/report-architecture.md says why the columns are what they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlxbench import noise
from mlxbench.catalog.spec import shape_id
from mlxbench.harness.backends import BACKENDS, report_order, speedup_pairs
from mlxbench.report import metrics
from mlxbench.report.formatting import COLUMN_NAMES, Column, Table, aggregate, format_rate, ratio, speedup
from mlxbench.report.index import ResultIndex
from mlxbench.report.judgement import Judge
from mlxbench.report.model import Key, Value
from mlxbench.report.notes import runs_apart_note, table_notes

SPEEDUPS: tuple[tuple[str, str], ...] = tuple(
    (first.name, other.name) for first, other in speedup_pairs(report_order(list(BACKENDS.values())))
)
"""(first, other) pairs: ``first/other speedup`` is how much faster ``first`` is."""


def header(index: ResultIndex, series: str, release: str) -> dict[str, str | None]:
    """A one-release table's meta: where and what was measured."""
    s, versions = index.series_by_id[series], index.versions(series, release)
    return {
        "config": index.config(series),
        "machine": s.machine,
        "environment": s.env,
        "mode": s.mode,
        "release": release,
        "mlx": versions["mlx"],
        "torch": versions["torch"],
        "metric": index.query.metric,
        "dtype": s.dtype,
    }


def _speedup_columns(metric: str, backends: Sequence[str]) -> list[tuple[str, str]]:
    if metric != "time":
        return []
    return [(a, b) for a, b in SPEEDUPS if a in backends and b in backends]


def _metric_columns(metric: str, backend: str) -> list[Column]:
    name = COLUMN_NAMES[backend]
    if metric == "time":
        return [Column(name, "ms")]
    if metric == "memory":
        return [Column(f"{name} (MB)", "rate")]
    if metric == "roofline":
        return [Column(name, "text"), Column(f"{name} % of roofline", "share", inline=True)]
    return [Column(f"{name} ({metrics.UNITS[metric]})", "rate")]


def _metric_cells(
    index: ResultIndex, series: str, release: str, op: str, variants: Sequence[str], backend: str
) -> list[Value]:
    """The backend's cells for ``variants`` of ``op`` (one variant: the detailed table's row)."""
    metric, how = index.query.metric, index.query.how
    times = [index.ms(Key(series, release, op, v, backend)) for v in variants]
    if metric == "time":
        return [aggregate(times, how)]
    if metric == "instructions":
        counted = [index.count(Key(series, release, op, v, backend)) for v in variants]
        return [aggregate([c / 1e6 if c is not None else None for c in counted], how)]
    if metric == "memory":  # the largest variant's peak is the op's budget
        peaks = [index.peak_mb(Key(series, release, op, v, backend)) for v in variants]
        return [max(peaks) if peaks and all(isinstance(p, float) for p in peaks) else aggregate(peaks, how)]
    if not all(isinstance(t, float) for t in times):
        bad = aggregate(times, how)
        return [bad, None] if metric == "roofline" else [bad]
    if metric != "roofline":
        return [aggregate([metrics.rate(metric, op, v, t) for v, t in zip(variants, times)], how)]
    ceiling = index.ceilings[series].get(backend)
    points = [metrics.roofline(op, v, t, ceiling) if ceiling else None for v, t in zip(variants, times)]
    if not all(points):
        return [None, None]
    bounds = {p.bound for p in points}
    share = aggregate([p.share for p in points], how)
    if len(bounds) > 1:
        return ["mixed bounds", share]
    unit = "GB/s" if bounds == {"memory"} else "GFLOP/s"
    return [f"{format_rate(aggregate([p.rate for p in points], how))} {unit}", share]


def _table(index: ResultIndex, judge: Judge, kind: str, series: str, release: str, per_variant: bool) -> Table:
    backends = index.backends_of(series)
    pairs = _speedup_columns(index.query.metric, backends)
    label = [Column("Operation", "text")] + ([Column("Variant", "text")] if per_variant else [])
    columns = list(label)
    for b in backends:
        columns += _metric_columns(index.query.metric, b)
        if per_variant:
            columns.append(Column(f"{COLUMN_NAMES[b]} IQR", "spread", inline=True))
    columns += [Column(f"{COLUMN_NAMES[a]}/{COLUMN_NAMES[b]} speedup", "change") for a, b in pairs]
    title = (
        f"{'Detailed' if per_variant else 'Average'} benchmark: {index.label(series)}, {index.stack(series, release)}"
    )
    apart = [(a, b) for a, b in pairs if judge.runs_apart(series, release, a, b)]
    table = Table(
        kind,
        title,
        table_notes(index, series, release, per_variant) + runs_apart_note(index, series, release, apart),
        columns,
        meta={**header(index, series, release), "aggregation": index.query.how},
    )
    for op, variants in index.variants(series, release).items():
        for group in [[v] for v in variants] if per_variant else [variants]:
            row: list[Value] = [op] + ([group[0]] if per_variant else [])
            for b in backends:
                row += _metric_cells(index, series, release, op, group, b)
                if per_variant:
                    row.append(index.spread(Key(series, release, op, group[0], b)))
            times = {b: index.op_value(series, release, op, group, b) for b in backends}
            row += [
                judge.judged(
                    speedup(times[a], times[b]), series, op, group, (release, a), (release, b), noise.WITHIN_RUN
                )
                for a, b in pairs
            ]
            table.rows.append(row)
    return table


def average(index: ResultIndex, judge: Judge, series: str, release: str) -> Table:
    """One row per op: its aggregate per backend, then the speedup columns (judged within the run)."""
    return _table(index, judge, "average", series, release, per_variant=False)


def detailed(index: ResultIndex, judge: Judge, series: str, release: str) -> Table:
    """One row per variant, with each median's interquartile range."""
    return _table(index, judge, "detailed", series, release, per_variant=True)


def half_precision(index: ResultIndex, float16: str, bfloat16: str) -> Table:
    """bfloat16 against float16 per backend, at the newest release both series have, over the shapes both ran.

    Variant ids differ only by their dtype suffix; an op's shapes measured
    in one dtype only (QuantizedMatmul's grid is bfloat16) are left out of
    its row, so the ratio compares like with like.
    """
    how = index.query.how
    release = [r for r in index.releases_of(float16) if r in index.releases_of(bfloat16)][-1]
    backends = [b for b in index.backends_of(float16) if b in index.backends_of(bfloat16)]
    columns = [Column("Operation", "text")]
    for b in backends:
        name = COLUMN_NAMES[b]
        columns += [
            Column(f"{name} float16", "ms"),
            Column(f"{name} bfloat16", "ms"),
            Column(f"{name} bf16/fp16", "ratio"),
        ]
    notes = [
        f"Times in ms ({how} mean over the shapes measured in both dtypes); bf16/fp16 is bfloat16's time over "
        "float16's on the same backend: 2.00x means bfloat16 takes twice as long. Never averaged across dtypes.",
    ]
    title = f"bfloat16 vs float16: {index.label(float16).removesuffix(', float16')}, {index.stack(float16, release)}"
    meta = {**header(index, float16, release), "dtype": "bfloat16/float16", "aggregation": how}
    table = Table("dtypes", title, notes, columns, meta=meta)
    halves = index.variants(float16, release), index.variants(bfloat16, release)
    for op in sorted(set(halves[0]) & set(halves[1])):
        shapes = {shape_id(v) for v in halves[0][op]} & {shape_id(v) for v in halves[1][op]}
        if not shapes:
            continue
        row: list[Value] = [op]
        for b in backends:
            fp16 = index.op_value(float16, release, op, [f"{v}-float16" for v in sorted(shapes)], b)
            bf16 = index.op_value(bfloat16, release, op, [f"{v}-bfloat16" for v in sorted(shapes)], b)
            row += [fp16, bf16, ratio(bf16, fp16)]
        table.rows.append(row)
    return table


def half_pairs(index: ResultIndex) -> list[tuple[str, str]]:
    """(float16 series, bfloat16 series) of each machine and environment that measured both."""
    by_env: dict[tuple[str, str], dict[str, str]] = {}
    for series, s in index.series_by_id.items():
        by_env.setdefault((s.machine, s.env), {})[s.dtype] = series
    return [(d["float16"], d["bfloat16"]) for d in by_env.values() if "float16" in d and "bfloat16" in d]
