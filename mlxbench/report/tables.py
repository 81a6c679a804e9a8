"""The tables people read: average per chip, detailed per variant, history across releases, the race.

The average table keeps the older suite's layout (one row per op, a column of
milliseconds per backend, then speedup columns ``(t_other / t_first - 1) x 100``)
and fixes where it misled: values are rounded, not truncated; variants are
aggregated with the geometric mean by default (the arithmetic mean the older
suite used is dominated by the largest variant) and the header says which; a
backend that did not run prints ``n/a`` instead of ``nan``; an op whose
backends covered different variants prints ``n/a`` rather than a mean that
would not compare with its neighbours.

A history has one column per release of the backend's framework
(:meth:`Report.points`). The race table follows the MLX-to-torch time ratio of
each pair of backends on the same kind of device over the commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mlxbench import noise
from mlxbench.catalog.spec import shape_id
from mlxbench.errors import UsageError
from mlxbench.harness.backends import BACKENDS, report_order, speedup_pairs
from mlxbench.report import metrics
from mlxbench.report.data import ReportData
from mlxbench.report.formatting import (
    COLUMN_NAMES,
    FRAMEWORK_NAMES,
    Column,
    Table,
    aggregate,
    backend_label,
    change,
    format_rate,
    ratio,
    speedup,
)
from mlxbench.report.judgement import commit_pair, judged, race_change
from mlxbench.report.model import Key, Value
from mlxbench.report.notes import mode_note, noise_notes, points_notes, table_notes

SPEEDUPS: tuple[tuple[str, str], ...] = tuple(
    (first.name, other.name) for first, other in speedup_pairs(report_order(list(BACKENDS.values())))
)
"""(first, other) pairs: ``first/other speedup`` is how much faster ``first`` is."""

RACES: tuple[tuple[str, str], ...] = tuple(
    (first, other)
    for first, other in SPEEDUPS
    if (BACKENDS[first].framework, BACKENDS[other].framework) == ("mlx", "torch")
)
"""(MLX backend, torch backend) pairs on the same kind of device (mlx_gpu/mps, mlx_gpu/cuda, mlx_cpu/cpu): the races.

The speedup pairs between the two frameworks, so a new backend joins the races as it joins the speedup columns."""


class Report(ReportData):
    """Tables over a :class:`ResultSet`, filtered by machine, backend, release range and mode.

    ``preset`` keeps only that preset's variants (None: every variant found).
    ``metric`` picks what the backend columns of the average and detailed
    tables show (:mod:`mlxbench.report.metrics`); speedups are a time comparison and
    appear with ``time`` only. History and races are always in milliseconds.
    ``mode`` keeps only pinned or only timeline environments (None: both, as
    separate series). ``stacks`` maps each timeline tag to the pair its commit
    pins (default: the committed catalogs' timeline).

    Tables are per series (:attr:`series`): a machine with results in one
    environment is one series named like the machine; one with several (a
    pinned history and a timeline one) has one series per environment, named
    ``"<machine> [<environment>]"``.
    """

    def races(self, series: str) -> list[tuple[str, str]]:
        """The (MLX, torch) backend pairs of :data:`RACES` measured together at some commit of this series."""
        return [(a, b) for a, b in RACES if self.race_points(series, a, b)]

    def _speedup_columns(self, backends: Sequence[str]) -> list[tuple[str, str]]:
        if self.metric != "time":
            return []
        return [(a, b) for a, b in SPEEDUPS if a in backends and b in backends]

    def _header(self, series: str, release: str) -> dict[str, str | None]:
        s, versions = self.series_by_id[series], self.versions(series, release)
        return {
            "config": self._config[series],
            "machine": s.machine,
            "environment": s.env,
            "mode": s.mode,
            "release": release,
            "mlx": versions["mlx"],
            "torch": versions["torch"],
            "metric": self.metric,
            "dtype": s.dtype,
        }

    # -- cells -----------------------------------------------------------
    def _metric_columns(self, backend: str) -> list[Column]:
        name = COLUMN_NAMES[backend]
        if self.metric == "time":
            return [Column(name, "ms")]
        if self.metric == "memory":
            return [Column(f"{name} (MB)", "rate")]
        if self.metric == "roofline":
            return [Column(name, "text"), Column(f"{name} % of roofline", "share", inline=True)]
        return [Column(f"{name} ({metrics.UNITS[self.metric]})", "rate")]

    def _metric_cells(self, series: str, release: str, op: str, variants: Sequence[str], backend: str) -> list[Value]:
        """The backend's cells for ``variants`` of ``op`` (one variant: the detailed table's row)."""
        times = [self._ms.get(Key(series, release, op, v, backend)) for v in variants]
        if self.metric == "time":
            return [aggregate(times, self.how)]
        if self.metric == "memory":  # the largest variant's peak is the op's budget
            peaks = [self._peak_mb.get(Key(series, release, op, v, backend)) for v in variants]
            return [max(peaks) if peaks and all(isinstance(p, float) for p in peaks) else aggregate(peaks, self.how)]
        if not all(isinstance(t, float) for t in times):
            bad = aggregate(times, self.how)
            return [bad, None] if self.metric == "roofline" else [bad]
        if self.metric != "roofline":
            return [aggregate([metrics.rate(self.metric, op, v, t) for v, t in zip(variants, times)], self.how)]
        ceiling = self.ceilings[series].get(backend)
        points = [metrics.roofline(op, v, t, ceiling) if ceiling else None for v, t in zip(variants, times)]
        if not all(points):
            return [None, None]
        bounds = {p.bound for p in points}
        share = aggregate([p.share for p in points], self.how)
        if len(bounds) > 1:
            return ["mixed bounds", share]
        unit = "GB/s" if bounds == {"memory"} else "GFLOP/s"
        return [f"{format_rate(aggregate([p.rate for p in points], self.how))} {unit}", share]

    # -- tables ----------------------------------------------------------
    def _table(self, kind: str, series: str, release: str, per_variant: bool) -> Table:
        backends = self.backends_of(series)
        pairs = self._speedup_columns(backends)
        label = [Column("Operation", "text")] + ([Column("Variant", "text")] if per_variant else [])
        columns = list(label)
        for b in backends:
            columns += self._metric_columns(b)
            if per_variant:
                columns.append(Column(f"{COLUMN_NAMES[b]} IQR", "spread", inline=True))
        columns += [Column(f"{COLUMN_NAMES[a]}/{COLUMN_NAMES[b]} speedup", "change") for a, b in pairs]
        title = (
            f"{'Detailed' if per_variant else 'Average'} benchmark: {self.label(series)}, {self.stack(series, release)}"
        )
        table = Table(
            kind,
            title,
            table_notes(self, series, release, per_variant),
            columns,
            meta={**self._header(series, release), "aggregation": self.how},
        )
        for op, variants in self.variants(series, release).items():
            for group in [[v] for v in variants] if per_variant else [variants]:
                row: list[Value] = [op] + ([group[0]] if per_variant else [])
                for b in backends:
                    row += self._metric_cells(series, release, op, group, b)
                    if per_variant:
                        row.append(self._spread.get(Key(series, release, op, group[0], b)))
                times = {b: self.op_value(series, release, op, group, b) for b in backends}
                row += [
                    judged(
                        self,
                        speedup(times[a], times[b]),
                        series,
                        op,
                        group,
                        (release, a),
                        (release, b),
                        noise.WITHIN_RUN,
                    )
                    for a, b in pairs
                ]
                table.rows.append(row)
        return table

    def average(self, series: str, release: str) -> Table:
        return self._table("average", series, release, per_variant=False)

    def detailed(self, series: str, release: str) -> Table:
        return self._table("detailed", series, release, per_variant=True)

    def _over_time(
        self, kind: str, series: str, title: str, labels: Sequence[str], releases: Sequence[str], notes: list[str]
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
        pairs = {f"{labels[i]}->{labels[j]}": commit_pair(self, series, releases[i], releases[j]) for i, j in steps}
        s = self.series_by_id[series]
        meta = {
            "config": self._config[series],
            "machine": s.machine,
            "environment": s.env,
            "mode": s.mode,
            "dtype": s.dtype,
            "aggregation": self.how,
            "points": dict(zip(labels, releases)),
            "noise_floors": {
                name: {"fraction": pair.floor.fraction, "source": pair.floor.source} for name, pair in pairs.items()
            },
        }
        return Table(kind, title, notes + noise_notes(self, series, kind, pairs), columns, meta=meta), steps

    @staticmethod
    def _timed_row(op: str, values: Sequence[Value], changes: Mapping[tuple[int, int], Value]) -> list[Value]:
        """A row of :meth:`_over_time`'s columns: each value, then its change from the one before; first to last."""
        row: list[Value] = [op]
        for i, value in enumerate(values):
            row.append(value)
            if i:
                row.append(changes[(i - 1, i)])
        if len(values) > 2:
            row.append(changes[(0, len(values) - 1)])
        return row

    def history(self, series: str, backend: str) -> Table:
        """The backend's ops across the releases of its framework (:meth:`points`), changes judged against the noise."""
        framework = BACKENDS[backend].framework
        name = FRAMEWORK_NAMES[framework]
        points = self.points(series, backend)
        labels, releases = [p.label for p in points], [p.release for p in points]
        notes = [
            f"Times in ms ({self.how} mean over each op's variants at the newest point); one column per {name} "
            "release this backend measured, at the commit that measured most of it; in parentheses the change in "
            f"runtime from the previous {name} release: negative is faster.",
            mode_note(self, series),
            *points_notes(self, series, backend, points),
        ]
        table, steps = self._over_time(
            "history",
            series,
            f"History: {self.label(series)}, {backend_label(backend)} across {name} releases",
            labels,
            releases,
            notes,
        )
        table.meta.update(backend=backend, framework=framework)
        for op, variants in self._ops(series, releases).items():
            values = [self.op_value(series, r, op, variants, backend) for r in releases]
            changes = {
                (i, j): judged(
                    self,
                    change(values[i], values[j]),
                    series,
                    op,
                    variants,
                    (releases[i], backend),
                    (releases[j], backend),
                    commit_pair(self, series, releases[i], releases[j]).floor,
                )
                for i, j in steps
            }
            table.rows.append(self._timed_row(op, values, changes))
        return table

    def race(self, series: str, mlx_backend: str, torch_backend: str) -> Table:
        """The MLX/torch time ratio of each op over the commits where both backends were measured."""
        releases = self.race_points(series, mlx_backend, torch_backend)
        mlx_name, torch_name = COLUMN_NAMES[mlx_backend], COLUMN_NAMES[torch_backend]
        stacks = {r: self.versions(series, r) for r in releases}
        notes = [
            f"t_{mlx_name} / t_{torch_name}: MLX's time over torch's on the same kind of device ({self.how} mean over "
            "each op's variants at the newest point, per backend); 2.00x means MLX takes twice torch's time, 0.50x "
            "half. One column per commit where both were measured (the earliest of each MLX/torch pair).",
            mode_note(self, series),
        ]
        if self.mode(series) == "timeline":
            notes.append(
                "Pairs: "
                + ", ".join(
                    f"{r} = mlx {stacks[r]['mlx'] or '?'} + torch {stacks[r]['torch'] or '?'}" for r in releases
                )
                + "."
            )
        table, steps = self._over_time(
            "race", series, f"Race: {self.label(series)}, {mlx_name} vs {torch_name}", releases, releases, notes
        )
        table.meta.update(
            mlx_backend=mlx_backend,
            torch_backend=torch_backend,
            stacks={r: {"mlx": v["mlx"], "torch": v["torch"]} for r, v in stacks.items()},
        )
        race = (mlx_backend, torch_backend)
        for op, variants in self._ops(series, releases).items():
            values = [ratio(*(self.op_value(series, r, op, variants, b) for b in race)) for r in releases]
            changes = {
                (i, j): race_change(self, series, op, variants, releases[i], releases[j], race) for i, j in steps
            }
            table.rows.append(self._timed_row(op, values, changes))
        return table

    def half_precision(self, float16: str, bfloat16: str) -> Table:
        """bfloat16 against float16 per backend, at the newest release both series have, over the shapes both ran.

        Variant ids differ only by their dtype suffix; an op's shapes measured
        in one dtype only (QuantizedMatmul's grid is bfloat16) are left out of
        its row, so the ratio compares like with like.
        """
        release = [r for r in self.releases_of(float16) if r in self.releases_of(bfloat16)][-1]
        backends = [b for b in self.backends_of(float16) if b in self.backends_of(bfloat16)]
        columns = [Column("Operation", "text")]
        for b in backends:
            name = COLUMN_NAMES[b]
            columns += [
                Column(f"{name} float16", "ms"),
                Column(f"{name} bfloat16", "ms"),
                Column(f"{name} bf16/fp16", "ratio"),
            ]
        notes = [
            f"Times in ms ({self.how} mean over the shapes measured in both dtypes); bf16/fp16 is bfloat16's time over "
            "float16's on the same backend: 2.00x means bfloat16 takes twice as long. Never averaged across dtypes.",
        ]
        title = f"bfloat16 vs float16: {self.label(float16).removesuffix(', float16')}, {self.stack(float16, release)}"
        meta = {**self._header(float16, release), "dtype": "bfloat16/float16", "aggregation": self.how}
        table = Table("dtypes", title, notes, columns, meta=meta)
        halves = self.variants(float16, release), self.variants(bfloat16, release)
        for op in sorted(set(halves[0]) & set(halves[1])):
            shapes = {shape_id(v) for v in halves[0][op]} & {shape_id(v) for v in halves[1][op]}
            if not shapes:
                continue
            row: list[Value] = [op]
            for b in backends:
                fp16 = self.op_value(float16, release, op, [f"{v}-float16" for v in sorted(shapes)], b)
                bf16 = self.op_value(bfloat16, release, op, [f"{v}-bfloat16" for v in sorted(shapes)], b)
                row += [fp16, bf16, ratio(bf16, fp16)]
            table.rows.append(row)
        return table

    def half_pairs(self) -> list[tuple[str, str]]:
        """(float16 series, bfloat16 series) of each machine and environment that measured both."""
        by_env: dict[tuple[str, str], dict[str, str]] = {}
        for series, s in self.series_by_id.items():
            by_env.setdefault((s.machine, s.env), {})[s.dtype] = series
        return [(d["float16"], d["bfloat16"]) for d in by_env.values() if "float16" in d and "bfloat16" in d]

    def tables(self, kinds: Sequence[str]) -> list[Table]:
        """The requested kinds for each series; average/detailed at its newest release, races where both ran;
        ``dtypes``: bfloat16 against float16 where a machine measured both."""
        out: list[Table] = []
        if "dtypes" in kinds:
            out.extend(self.half_precision(*pair) for pair in self.half_pairs())
        for series in self.series:
            releases = self.releases_of(series)
            if not releases:
                continue
            for kind in kinds:
                if kind == "dtypes":
                    continue
                if kind == "history":
                    out.extend(self.history(series, b) for b in self.backends_of(series))
                elif kind == "race":
                    out.extend(self.race(series, *race) for race in self.races(series))
                else:
                    out.append(getattr(self, kind)(series, releases[-1]))
        if not out:
            hint = ""
            if "dtypes" in kinds and not self.half_pairs():
                hint = (
                    "; --table dtypes needs one machine's float16 and bfloat16 results "
                    "(the models preset: `mlxbench bench --preset models`, then `report --preset models`)"
                )
            raise UsageError(f"no results match the selected machine, backend, release range and dtype{hint}")
        return out
