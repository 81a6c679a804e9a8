"""The tables people read: average per chip, detailed per variant, history across releases.

The average table keeps the older suite's layout (one row per op, a column of
milliseconds per backend, then speedup columns ``(t_other / t_first - 1) x 100``)
and fixes where it misled: values are rounded, not truncated; variants are
aggregated with the geometric mean by default (the arithmetic mean the older
suite used is dominated by the largest variant) and the header says which; a
backend that did not run prints ``n/a`` instead of ``nan``; an op whose
backends covered different variants prints ``n/a`` rather than a mean that
would not compare with its neighbours.

Every change (history) and speedup (average, detailed) is judged against the
noise (:mod:`mlxbench.report.noise`): one that does not beat it prints ``~``,
since two runs of the same code on the same machine differ by more than many
of the changes the table would otherwise print.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean, geometric_mean
from typing import Any, NamedTuple

from mlxbench import selection
from mlxbench.catalog import CATALOG, PRESETS, VARIANTS
from mlxbench.catalog.ops.activations import COMPILED_BY_MLX_NN, COMPILED_SINCE
from mlxbench.errors import UsageError
from mlxbench.harness.backends import BACKENDS, report_order, speedup_pairs
from mlxbench.harness.ceilings import Ceiling
from mlxbench.report import metrics, noise
from mlxbench.report.results import FAILED, Measurement, ResultSet

COLUMN_NAMES = {backend.name: backend.column for backend in report_order(list(BACKENDS.values()))}
"""Backend -> column heading, in report column order (both from :data:`BACKENDS`)."""

SPEEDUPS: tuple[tuple[str, str], ...] = tuple(
    (first.name, other.name) for first, other in speedup_pairs(report_order(list(BACKENDS.values())))
)
"""(first, other) pairs: ``first/other speedup`` is how much faster ``first`` is."""


class Key(NamedTuple):
    """Where one table value comes from."""

    machine: str
    release: str
    op: str
    variant: str
    backend: str


class _Pair(NamedTuple):
    """Two releases of one machine, as the noise tests see them."""

    changed: frozenset[str]
    """Frameworks whose version differs between the two (an unknown version counts as changed)."""
    floor: noise.Floor


_CATALOG_ORDER = {key: i for i, key in enumerate(VARIANTS)}

AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {"geometric": geometric_mean, "arithmetic": fmean}

Value = float | str | None
"""A table cell's raw value: a number, :data:`FAILED`, or None for n/a."""


class Change(float):
    """A change or speedup in percent, with whether it beats the noise.

    A float, so it computes and serializes as the number; markdown prints ``~``
    for one that does not beat the noise, and csv/json add the flag beside it.
    """

    beats_noise: bool

    def __new__(cls, value: float, beats_noise: bool) -> Change:
        self = super().__new__(cls, value)
        self.beats_noise = beats_noise
        return self


def speedup(first: Value, other: Value) -> Value:
    """``(t_other / t_first - 1) * 100``: +58 means ``first`` takes 1/1.58 of ``other``'s time."""
    if isinstance(first, float) and isinstance(other, float):
        return (other / first - 1.0) * 100.0
    return None


def change(old: Value, new: Value) -> Value:
    """Runtime change in percent from ``old`` to ``new``: negative is faster."""
    return speedup(old, new)


def format_ms(value: Value) -> str:
    """Milliseconds, rounded: two decimals from 1 ms up, three significant digits below."""
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:.2f}" if value >= 1.0 else f"{value:#.3g}"


def format_pct(value: Value) -> str:
    """A signed whole percentage, rounded half away from zero (``+58%``, ``-41%``)."""
    if not isinstance(value, float):
        return "n/a"
    rounded = math.floor(abs(value) + 0.5)
    return f"{'-' if value < 0 and rounded else '+'}{rounded}%"


def format_change(value: Value) -> str:
    """:func:`format_pct`, or ``~`` for a change that does not beat the noise."""
    if isinstance(value, Change) and not value.beats_noise:
        return "~"
    return format_pct(value)


def format_rate(value: Value) -> str:
    """GB/s or GFLOP/s to three significant digits."""
    if not isinstance(value, float):
        return format_ms(value)
    return f"{value:.1f}" if value >= 100 else f"{value:#.3g}"


def format_share(value: Value) -> str:
    """An unsigned whole percentage (roofline share, spread)."""
    return f"{math.floor(value + 0.5)}%" if isinstance(value, float) else "n/a"


FORMATTERS: dict[str, Callable[[Value], str]] = {
    "ms": format_ms,
    "pct": format_pct,
    "change": format_change,
    "rate": format_rate,
    "share": format_share,
    "spread": lambda v: (
        "n/a" if not isinstance(v, float) else f"±{format_share(v)}" + (" !" if v > SPREAD_LIMIT else "")
    ),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "text" or a key of FORMATTERS
    inline: bool = False
    """Markdown only: print in parentheses after the previous column instead of on its own."""

    def format(self, value: Value) -> str:
        if self.kind == "text":
            return "n/a" if value is None else str(value)
        return FORMATTERS[self.kind](value)


@dataclass
class Table:
    kind: str
    title: str
    notes: list[str]
    columns: list[Column]
    rows: list[list[Value]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def aggregate(values: Iterable[Value], how: str) -> Value:
    """One op's value over its variants: n/a if any variant is n/a, failed if any failed."""
    values = list(values)
    if any(v == FAILED for v in values):
        return FAILED
    if not values or any(not isinstance(v, float) for v in values):
        return None
    return AGGREGATES[how](values)


SPREAD_LIMIT = 25.0
"""Interquartile range above this percentage of the median: flagged as too noisy to trust."""


class Report:
    """Tables over a :class:`ResultSet`, filtered by machine, backend and release range.

    ``preset`` keeps only that preset's variants (None: every variant found).
    ``metric`` picks what the backend columns of the average and detailed
    tables show (:mod:`mlxbench.report.metrics`); speedups are a time comparison and
    appear with ``time`` only. History is always in milliseconds.
    """

    def __init__(
        self,
        results: ResultSet,
        machines: Sequence[str] | None = None,
        backends: Sequence[str] | None = None,
        release_range: str | None = None,
        how: str = "geometric",
        metric: str = "time",
        ceilings: Mapping[str, Mapping[str, Ceiling]] | None = None,
        ops: Sequence[str] | None = None,
        preset: str | None = None,
    ) -> None:
        if how not in AGGREGATES:
            raise UsageError(f"unknown aggregation {how!r}; valid: {', '.join(AGGREGATES)}")
        if metric not in metrics.METRICS:
            raise UsageError(f"unknown metric {metric!r}; valid metrics: {', '.join(metrics.METRICS)}")
        self.how, self.metric = how, metric
        self.machines = _pick_machines(results, machines)
        self._machine_info = {m: results.machines.get(m, {}) for m in self.machines}
        self._config = {m: results.config(m) for m in self.machines}
        self._repeatability = {m: results.repeatability.get(m, noise.DEFAULT_FLOOR) for m in self.machines}
        self.backends = [b.name for b in selection.backends(backends, order=report_order(list(BACKENDS.values())))]
        self.releases = _pick_releases(results.releases, release_range)
        self.ceilings = {m: dict((ceilings or {}).get(m, {})) for m in self.machines}
        if metric == "roofline":
            missing = [m for m in self.machines if not self.ceilings[m]]
            if missing:
                raise UsageError(
                    f"no ceilings for {', '.join(missing)}: run `mlxbench calibrate` on that machine first"
                )
        if preset is not None and preset not in PRESETS:
            raise UsageError(f"unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}")
        # Presets measure different sizes: one table never mixes them.
        wanted = None if preset is None else {(op.name, v.id) for op in CATALOG.values() for v in op.variants(preset)}
        self._ms: dict[Key, Value] = {}
        self._peak_mb: dict[Key, Value] = {}
        self._spread: dict[Key, float] = {}
        self._torch: dict[tuple[str, str], set[str]] = {}
        # The noise tests use every backend and op of the preset (controls), whatever the tables show.
        self._runs: dict[tuple[str, str, str], dict[tuple[str, str], noise.Stats]] = {}
        """(machine, release, backend) -> (op, variant) -> the time measurement's statistics."""
        self._torch_recorded: dict[tuple[str, str], set[str]] = {}
        self._pairs: dict[tuple[str, str, str], _Pair] = {}
        for m in results.measurements:
            if not (
                m.machine in self.machines
                and m.release in self.releases
                and (wanted is None or (m.op, m.variant) in wanted)
            ):
                continue
            key = Key(m.machine, m.release, m.op, m.variant, m.backend)
            if m.torch:
                self._torch_recorded.setdefault((m.machine, m.release), set()).add(m.torch)
            if m.kind == "time" and m.ok:
                self._runs.setdefault((m.machine, m.release, m.backend), {})[(m.op, m.variant)] = m.stats()
            if m.backend in self.backends and (ops is None or m.op in ops):
                if m.torch:
                    self._torch.setdefault((m.machine, m.release), set()).add(m.torch)
                if m.kind == "peakmem":
                    self._peak_mb[key] = m.value / 1e6 if m.ok else _ms(m)
                    continue
                self._ms[key] = _ms(m)
                if m.ok and m.q25 is not None and m.q75 is not None:
                    self._spread[key] = (m.q75 - m.q25) / m.value * 100.0

    def representatives(self) -> list[str]:
        """One machine per chip configuration, the one with results at the most releases (then by name)."""
        best: dict[str, str] = {}
        for machine in self.machines:
            config = self._config[machine]
            if config not in best or len(self.releases_of(machine)) > len(self.releases_of(best[config])):
                best[config] = machine
        return list(best.values())

    def label(self, machine: str) -> str:
        """How headers name a machine: its chip configuration, and the machine where that is not the same name."""
        config = self._config[machine]
        return machine if config == machine else f"{config}, machine {machine}"

    # -- what exists -----------------------------------------------------
    def releases_of(self, machine: str) -> list[str]:
        have = {k.release for k in self._ms if k.machine == machine}
        return [r for r in self.releases if r in have]

    def backends_of(self, machine: str) -> list[str]:
        """Backends with at least one number on this machine (the others get no column)."""
        ran = {k.backend for k, v in self._ms.items() if k.machine == machine and isinstance(v, float)}
        return [b for b in COLUMN_NAMES if b in ran and b in self.backends]

    def _variants(self, machine: str, release: str) -> dict[str, list[str]]:
        """op -> its variants with results, in catalog order (ops sorted by name)."""
        out: dict[str, list[str]] = {}
        for k in self._ms:
            if k.machine == machine and k.release == release and k.variant not in out.setdefault(k.op, []):
                out[k.op].append(k.variant)
        return {
            op: sorted(variants, key=lambda v: (_CATALOG_ORDER.get((op, v), len(_CATALOG_ORDER)), v))
            for op, variants in sorted(out.items())
        }

    def _op_value(self, machine: str, release: str, op: str, variants: Sequence[str], backend: str) -> Value:
        return aggregate((self._ms.get(Key(machine, release, op, v, backend)) for v in variants), self.how)

    def _speedup_columns(self, backends: Sequence[str]) -> list[tuple[str, str]]:
        if self.metric != "time":
            return []
        return [(a, b) for a, b in SPEEDUPS if a in backends and b in backends]

    def _header(self, machine: str, release: str) -> dict[str, str]:
        torch = sorted(self._torch.get((machine, release), ()))
        return {
            "config": self._config[machine],
            "machine": machine,
            "release": release,
            "torch": ", ".join(torch) or "as installed",
            "metric": self.metric,
        }

    def noisy(self, machine: str, release: str) -> list[tuple[str, str, str, float]]:
        """(op, variant, backend, IQR %) of every result too spread out to trust."""
        return sorted(
            (k.op, k.variant, k.backend, spread)
            for k, spread in self._spread.items()
            if k.machine == machine and k.release == release and spread > SPREAD_LIMIT
        )

    # -- noise -----------------------------------------------------------
    def _versions(self, machine: str, release: str) -> dict[str, str | None]:
        """Framework -> version at ``release`` on ``machine``; None where unknown (it then counts as changed).

        MLX's comes from the tag (``v0.31.1``; an unknown commit has none),
        torch's from the environment's recorded requirement (one per run).
        """
        torch = self._torch_recorded.get((machine, release), set())
        return {
            "mlx": release[1:] if release.startswith("v") else None,
            "torch": next(iter(torch)) if len(torch) == 1 else None,
        }

    def _pair(self, machine: str, before: str, after: str) -> _Pair:
        """Which frameworks changed between two releases, and the pair's between-run noise floor.

        The floor is the drift of the control benchmarks (backends whose
        framework did not change), one ratio per op and backend as the tables
        aggregate them, else the machine's repeatability or the default.
        """
        if (machine, before, after) in self._pairs:
            return self._pairs[(machine, before, after)]
        old, new = self._versions(machine, before), self._versions(machine, after)
        changed = noise.changed_frameworks(old, new)
        mean = AGGREGATES[self.how]
        controls, ratios = [], []
        for backend in BACKENDS.values():
            a = self._runs.get((machine, before, backend.name), {})
            b = self._runs.get((machine, after, backend.name), {})
            if backend.framework in changed or not a or not b:
                continue
            controls.append(backend.column)
            for op in sorted({op for op, _ in a}):
                shared = [v for o, v in a if o == op and (o, v) in b]
                if shared:
                    ratios.append(mean([b[(op, v)].median for v in shared]) / mean([a[(op, v)].median for v in shared]))
        kept = ", ".join(f"{f} {old[f]}" for f in sorted(old.keys() - changed))
        what = f"{len(ratios)} op results of {', '.join(controls)}, whose {kept} is the same at both points"
        pair = _Pair(frozenset(changed), noise.floor_from_controls(ratios, what, self._repeatability[machine]))
        self._pairs[(machine, before, after)] = pair
        return pair

    def _judged(
        self,
        value: Value,
        machine: str,
        op: str,
        variants: Sequence[str],
        before: tuple[str, str],
        after: tuple[str, str],
        floor: noise.Floor,
    ) -> Value:
        """A percentage from ``before`` to ``after`` (each a (release, backend)) with its noise verdict.

        n/a and failed stay as they are; a number becomes a :class:`Change`.
        """
        if not isinstance(value, float):
            return value
        old, new = (
            {v: self._runs[(machine, release, backend)][(op, v)] for v in variants}
            for release, backend in (before, after)
        )
        return Change(value, noise.judge(old, new, floor, AGGREGATES[self.how]).changed)

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

    def _metric_cells(self, machine: str, release: str, op: str, variants: Sequence[str], backend: str) -> list[Value]:
        """The backend's cells for ``variants`` of ``op`` (one variant: the detailed table's row)."""
        times = [self._ms.get(Key(machine, release, op, v, backend)) for v in variants]
        if self.metric == "time":
            return [aggregate(times, self.how)]
        if self.metric == "memory":  # the largest variant's peak is the op's budget
            peaks = [self._peak_mb.get(Key(machine, release, op, v, backend)) for v in variants]
            return [max(peaks) if peaks and all(isinstance(p, float) for p in peaks) else aggregate(peaks, self.how)]
        if not all(isinstance(t, float) for t in times):
            bad = aggregate(times, self.how)
            return [bad, None] if self.metric == "roofline" else [bad]
        if self.metric != "roofline":
            return [aggregate([metrics.rate(self.metric, op, v, t) for v, t in zip(variants, times)], self.how)]
        ceiling = self.ceilings[machine].get(backend)
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
    def _notes(self, machine: str, release: str, per_variant: bool) -> list[str]:
        meta = self._header(machine, release)
        what = (
            "ASV median per variant"
            if per_variant
            else f"each op is the {self.how} mean over its variants "
            f"(`--mean {'arithmetic' if self.how == 'geometric' else 'geometric'}` for the other)"
        )
        lead = {
            "time": "Times in ms",
            "memory": "Peak resident memory of the benchmark process in MB "
            "(ASV peakmem; inputs, output and the frameworks themselves; the op's largest variant)",
            "bandwidth": "Achieved bandwidth in GB/s (bytes moved / time)",
            "flops": "Achieved GFLOP/s",
            "roofline": "Achieved rate and % of the roofline (the fastest time "
            "the calibrated ceilings allow for the variant's bytes and FLOPs)",
        }[self.metric]
        notes = [f"{lead}; {what}. torch {meta['torch']}."]
        notes += _machine_notes(self._machine_info[machine], self.backends_of(machine))
        if self.metric == "time":
            notes.append(
                "`a/b speedup` = (t_b / t_a - 1) x 100: +100% means a takes half of b's time. "
                "Both backends ran in the same run, so a speedup is judged within the run only: it shows where "
                "ASV's test (Mann-Whitney U on recorded samples, else non-overlapping 99% confidence intervals) "
                + ("finds the two different" if per_variant else "finds most variants different in its direction")
                + ", else `~` (csv/json keep the number, with a `beats noise` flag)."
            )
        mlx_shown = any(BACKENDS[b].framework == "mlx" for b in self.backends_of(machine))
        if mlx_shown and not per_variant and any(op in COMPILED_BY_MLX_NN for op in self._variants(machine, release)):
            notes.append(
                f"{', '.join(COMPILED_BY_MLX_NN)}: MLX's side is an mlx.nn function that MLX compiles itself "
                f"(mx.compile, shapeless) since {COMPILED_SINCE}, so the plain MLX backends run compiled code too and "
                "their compile speedup compares compiled with compiled."
            )
        if self.metric == "roofline":
            ceilings = self.ceilings[machine]
            notes.append(
                "Ceilings (`mlxbench calibrate`): "
                + "; ".join(
                    f"{COLUMN_NAMES[b]} {min(c.bandwidth_gbs.values()):.1f}-{max(c.bandwidth_gbs.values()):.1f} GB/s "
                    f"(DRAM {c.dram_gbs:.1f}), {c.gflops:.1f} GFLOP/s"
                    for b, c in ceilings.items()
                )
                + ". Each variant is held to the bandwidth of a calibrated copy at least its size (cache or DRAM). "
                "On Linux, mlx_cpu's compute ceiling is its own single-threaded reference BLAS, which vectorized "
                "elementwise kernels can outrun: a share over 100% means faster than that ceiling."
            )
        notes.append(
            "n/a: the backend or the MLX API is missing"
            + ("" if per_variant else ", or it did not run every variant")
            + ("; ops that only move data have no FLOP rate." if self.metric == "flops" else ".")
        )
        noisy = self.noisy(machine, release)
        if noisy:
            notes.append(
                f"{len(noisy)} result(s) have an interquartile range over {SPREAD_LIMIT:.0f}% of the median "
                "(too noisy to trust; `--table detailed` shows each spread)."
            )
        return notes

    def _table(self, kind: str, machine: str, release: str, per_variant: bool) -> Table:
        backends = self.backends_of(machine)
        pairs = self._speedup_columns(backends)
        label = [Column("Operation", "text")] + ([Column("Variant", "text")] if per_variant else [])
        columns = list(label)
        for b in backends:
            columns += self._metric_columns(b)
            if per_variant:
                columns.append(Column(f"{COLUMN_NAMES[b]} IQR", "spread", inline=True))
        columns += [Column(f"{COLUMN_NAMES[a]}/{COLUMN_NAMES[b]} speedup", "change") for a, b in pairs]
        title = f"{'Detailed' if per_variant else 'Average'} benchmark: {self.label(machine)}, mlx {release}"
        table = Table(
            kind,
            title,
            self._notes(machine, release, per_variant),
            columns,
            meta={**self._header(machine, release), "aggregation": self.how},
        )
        for op, variants in self._variants(machine, release).items():
            for group in [[v] for v in variants] if per_variant else [variants]:
                row: list[Value] = [op] + ([group[0]] if per_variant else [])
                for b in backends:
                    row += self._metric_cells(machine, release, op, group, b)
                    if per_variant:
                        row.append(self._spread.get(Key(machine, release, op, group[0], b)))
                times = {b: self._op_value(machine, release, op, group, b) for b in backends}
                row += [
                    self._judged(
                        speedup(times[a], times[b]), machine, op, group, (release, a), (release, b), noise.WITHIN_RUN
                    )
                    for a, b in pairs
                ]
                table.rows.append(row)
        return table

    def average(self, machine: str, release: str) -> Table:
        return self._table("average", machine, release, per_variant=False)

    def detailed(self, machine: str, release: str) -> Table:
        return self._table("detailed", machine, release, per_variant=True)

    def history(self, machine: str, backend: str) -> Table:
        releases = self.releases_of(machine)
        steps = list(zip(releases, releases[1:])) + ([(releases[0], releases[-1])] if len(releases) > 2 else [])
        columns = [Column("Operation", "text")]
        for i, release in enumerate(releases):
            columns.append(Column(release, "ms"))
            if i:
                columns.append(Column(f"{releases[i - 1]}->{release} change", "change", inline=True))
        if len(releases) > 2:
            columns.append(Column(f"{releases[0]}->{releases[-1]} change", "change"))
        pairs = {step: self._pair(machine, *step) for step in steps}
        table = Table(
            "history",
            f"History: {self.label(machine)}, {COLUMN_NAMES[backend]} ({backend})",
            [
                f"Times in ms ({self.how} mean over each op's variants at the newest release); "
                "in parentheses the change in runtime from the previous release: negative is faster.",
                *self._noise_notes(machine, backend, pairs),
            ],
            columns,
            meta={
                "config": self._config[machine],
                "machine": machine,
                "backend": backend,
                "aggregation": self.how,
                "noise_floors": {
                    f"{a}->{b}": {"fraction": pair.floor.fraction, "source": pair.floor.source}
                    for (a, b), pair in pairs.items()
                },
            },
        )
        ops = {}
        for release in reversed(releases):  # variants as of the newest release that has the op
            for op, variants in self._variants(machine, release).items():
                ops.setdefault(op, variants)
        position = {release: i for i, release in enumerate(releases)}
        for op, variants in sorted(ops.items()):
            values = [self._op_value(machine, r, op, variants, backend) for r in releases]
            changes = {}
            for a, b in steps:
                value = change(values[position[a]], values[position[b]])
                if BACKENDS[backend].framework not in pairs[(a, b)].changed and isinstance(value, float):
                    changes[(a, b)] = Change(value, False)  # same framework version: the difference is drift
                else:
                    changes[(a, b)] = self._judged(
                        value, machine, op, variants, (a, backend), (b, backend), pairs[(a, b)].floor
                    )
            row: list[Value] = [op]
            for i, value in enumerate(values):
                row.append(value)
                if i:
                    row.append(changes[(releases[i - 1], releases[i])])
            if len(releases) > 2:
                row.append(changes[(releases[0], releases[-1])])
            table.rows.append(row)
        return table

    def _noise_notes(self, machine: str, backend: str, pairs: Mapping[tuple[str, str], _Pair]) -> list[str]:
        """What `~` means in a history table, and each pair's noise floor with where it comes from."""
        if not pairs:
            return []
        framework = BACKENDS[backend].framework
        sampled = any(
            st.samples is not None for (m, _, _), run in self._runs.items() if m == machine for st in run.values()
        )
        notes = [
            "A change shows as +x%/-x% only when it beats the noise: ASV's test ("
            + ("Mann-Whitney U on the recorded samples, else" if sampled else "no samples recorded here, so")
            + " non-overlapping 99% confidence intervals) finds most of the op's variants different in its "
            "direction, and it exceeds the pair's noise floor, the machine's drift between the two runs. "
            "Otherwise `~` (csv/json keep the number, with a `beats noise` flag)."
        ]
        same = [f"{a}->{b}" for (a, b), pair in pairs.items() if framework not in pair.changed]
        if same:
            notes.append(
                f"{framework} did not change in {', '.join(same)}: this backend's differences there are the "
                "machine's drift, all `~`."
            )
        by_source: dict[str, list[str]] = {}
        for (a, b), pair in pairs.items():
            by_source.setdefault(pair.floor.source, []).append(f"{a}->{b} {pair.floor.fraction * 100:.0f}%")
        notes.append(
            "Noise floor per pair: " + "; ".join(f"{', '.join(p)} ({source})" for source, p in by_source.items()) + "."
        )
        return notes

    def tables(self, kinds: Sequence[str]) -> list[Table]:
        """The requested kinds for each selected machine; average/detailed at the newest release."""
        out: list[Table] = []
        for machine in self.machines:
            releases = self.releases_of(machine)
            if not releases:
                continue
            for kind in kinds:
                if kind == "history":
                    out.extend(self.history(machine, b) for b in self.backends_of(machine))
                else:
                    out.append(getattr(self, kind)(machine, releases[-1]))
        if not out:
            raise UsageError("no results match the selected machine, backend and release range")
        return out


def _machine_notes(info: Mapping[str, object], backends: Sequence[str]) -> list[str]:
    """Threads and float32 policy as the machine recorded them (``mlxbench machine``); none for older records."""
    notes = []
    if "torch_threads" in info and "mlx_cpu_threads" in info:
        notes.append(f"Threads: torch {info['torch_threads']}, MLX CPU {info['mlx_cpu_threads']}.")
    accelerated_mlx = [b for b in backends if BACKENDS[b].framework == "mlx" and BACKENDS[b].accelerated]
    if accelerated_mlx and "mlx_enable_tf32" in info:
        notes.append(
            f"MLX GPU float32: MLX_ENABLE_TF32={info['mlx_enable_tf32']} "
            "(0: full float32, as torch_cuda with TF32 off; 1: TF32-class products)."
        )
    return notes


def _ms(m: Measurement) -> Value:
    if m.value == FAILED:
        return FAILED
    return m.value * 1e3 if m.ok else None


def _pick_machines(results: ResultSet, names: Sequence[str] | None) -> list[str]:
    """Machines by name, or by chip configuration where exactly one machine has it; grouped by configuration."""
    have = sorted(results.machines, key=lambda m: (results.config(m), m))
    if not names:
        return have
    listing = ", ".join(m if results.config(m) == m else f"{m} (config {results.config(m)})" for m in have)
    by_lower = {m.lower(): m for m in have}
    picked = []
    for name in names:
        if name.lower() in by_lower:
            picked.append(by_lower[name.lower()])
            continue
        same = [m for m in have if results.config(m).lower() == name.lower()]
        if len(same) != 1:
            problem = f"{len(same)} machines have config {name!r}, name one" if same else f"unknown machine {name!r}"
            raise UsageError(f"{problem}; machines with results: {listing or 'none'}")
        picked.append(same[0])
    return picked


def _pick_releases(have: Sequence[str], spec: str | None) -> list[str]:
    """``A..B`` (inclusive, either end may be left out) or a single release ``A``."""
    if not spec:
        return list(have)
    first, sep, last = spec.partition("..")
    if not sep:
        last = first
    for end in (first, last):
        if end and end not in have:
            raise UsageError(f"unknown release {end!r}; releases with results: {', '.join(have)}")
    lo = have.index(first) if first else 0
    hi = have.index(last) if last else len(have) - 1
    if lo > hi:
        raise UsageError(f"empty release range {spec!r}: {first} comes after {last}")
    return list(have[lo : hi + 1])
