"""The tables people read: average per chip, detailed per variant, history across releases.

The average table keeps the older suite's layout (one row per op, a column of
milliseconds per backend, then speedup columns ``(t_other / t_first - 1) x 100``)
and fixes where it misled: values are rounded, not truncated; variants are
aggregated with the geometric mean by default (the arithmetic mean the older
suite used is dominated by the largest variant) and the header says which; a
backend that did not run prints ``n/a`` instead of ``nan``; an op whose
backends covered different variants prints ``n/a`` rather than a mean that
would not compare with its neighbours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean, geometric_mean
from typing import NamedTuple

from mlxbench import selection
from mlxbench.catalog import CATALOG, PRESETS, VARIANTS
from mlxbench.catalog.ops.activations import COMPILED_BY_MLX_NN, COMPILED_SINCE
from mlxbench.errors import UsageError
from mlxbench.harness.backends import BACKENDS, report_order, speedup_pairs
from mlxbench.harness.ceilings import Ceiling
from mlxbench.report import metrics
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


_CATALOG_ORDER = {key: i for i, key in enumerate(VARIANTS)}

AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {"geometric": geometric_mean, "arithmetic": fmean}

Value = float | str | None
"""A table cell's raw value: a number, :data:`FAILED`, or None for n/a."""


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
    meta: dict[str, str] = field(default_factory=dict)


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
        for m in results.measurements:
            if (
                m.machine in self.machines
                and m.backend in self.backends
                and m.release in self.releases
                and (ops is None or m.op in ops)
                and (wanted is None or (m.op, m.variant) in wanted)
            ):
                key = Key(m.machine, m.release, m.op, m.variant, m.backend)
                if m.torch:
                    self._torch.setdefault((m.machine, m.release), set()).add(m.torch)
                if m.unit == "bytes":
                    self._peak_mb[key] = m.value / 1e6 if m.ok else _ms(m)
                    continue
                self._ms[key] = _ms(m)
                if m.ok and m.q25 is not None and m.q75 is not None:
                    self._spread[key] = (m.q75 - m.q25) / m.value * 100.0

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
            notes.append("`a/b speedup` = (t_b / t_a - 1) x 100: +100% means a takes half of b's time.")
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
        columns += [Column(f"{COLUMN_NAMES[a]}/{COLUMN_NAMES[b]} speedup", "pct") for a, b in pairs]
        title = f"{'Detailed' if per_variant else 'Average'} benchmark: {machine}, mlx {release}"
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
                table.rows.append(row + [speedup(times[a], times[b]) for a, b in pairs])
        return table

    def average(self, machine: str, release: str) -> Table:
        return self._table("average", machine, release, per_variant=False)

    def detailed(self, machine: str, release: str) -> Table:
        return self._table("detailed", machine, release, per_variant=True)

    def history(self, machine: str, backend: str) -> Table:
        releases = self.releases_of(machine)
        columns = [Column("Operation", "text")]
        for i, release in enumerate(releases):
            columns.append(Column(release, "ms"))
            if i:
                columns.append(Column(f"{releases[i - 1]}->{release} change", "pct", inline=True))
        if len(releases) > 2:
            columns.append(Column(f"{releases[0]}->{releases[-1]} change", "pct"))
        table = Table(
            "history",
            f"History: {machine}, {COLUMN_NAMES[backend]} ({backend})",
            [
                f"Times in ms ({self.how} mean over each op's variants at the newest release); "
                "in parentheses the change in runtime from the previous release: negative is faster."
            ],
            columns,
            meta={"machine": machine, "backend": backend, "aggregation": self.how},
        )
        ops = {}
        for release in reversed(releases):  # variants as of the newest release that has the op
            for op, variants in self._variants(machine, release).items():
                ops.setdefault(op, variants)
        for op, variants in sorted(ops.items()):
            values = [self._op_value(machine, r, op, variants, backend) for r in releases]
            row: list[Value] = [op]
            for i, value in enumerate(values):
                row.append(value)
                if i:
                    row.append(change(values[i - 1], value))
            if len(releases) > 2:
                row.append(change(values[0], values[-1]))
            table.rows.append(row)
        return table

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
    have = sorted(results.machines)
    if not names:
        return have
    by_lower = {m.lower(): m for m in have}
    unknown = [n for n in names if n.lower() not in by_lower]
    if unknown:
        raise UsageError(f"unknown machine {unknown[0]!r}; machines with results: {', '.join(have) or 'none'}")
    return [by_lower[n.lower()] for n in names]


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
