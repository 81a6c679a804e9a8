"""The tables people read: average per chip, detailed per variant, history across releases, the race.

The average table keeps the older suite's layout (one row per op, a column of
milliseconds per backend, then speedup columns ``(t_other / t_first - 1) x 100``)
and fixes where it misled: values are rounded, not truncated; variants are
aggregated with the geometric mean by default (the arithmetic mean the older
suite used is dominated by the largest variant) and the header says which; a
backend that did not run prints ``n/a`` instead of ``nan``; an op whose
backends covered different variants prints ``n/a`` rather than a mean that
would not compare with its neighbours.

Every change (history) and speedup (average, detailed) is judged against the
noise (:mod:`mlxbench.noise`): one that does not beat it prints ``~``,
since two runs of the same code on the same machine differ by more than many
of the changes the table would otherwise print.

Both axes of the timeline show. A result measured the pair of its commit
(the timeline's MLX_VERSION and TORCH_VERSION), or, where its environment
pins torch (pinned mode: the environment's name carries ``torch2.13.0``), that
commit's MLX with the pinned torch. A backend's history has one column per
release of its own framework, at the earliest commit that measured it: the
other commits measuring that release again only show the machine's drift and
are the other framework's controls. The race table follows the MLX-to-torch
time ratio of each pair of backends on the same kind of device over the
commits. A series is one machine in one ASV environment: pinned and timeline
results are never spliced.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean, geometric_mean
from typing import Any, NamedTuple

from mlxbench import noise, selection
from mlxbench.catalog import CATALOG, PRESETS, VARIANTS
from mlxbench.catalog.ops.activations import COMPILED_BY_MLX_NN, COMPILED_SINCE
from mlxbench.errors import UsageError
from mlxbench.harness.backends import BACKENDS, report_order, speedup_pairs
from mlxbench.harness.ceilings import Ceiling
from mlxbench.report import metrics
from mlxbench.stack import timeline
from mlxbench.stack.releases import TAG_PREFIX
from mlxbench.store.results import FAILED, Measurement, ResultSet

COLUMN_NAMES = {backend.name: backend.column for backend in report_order(list(BACKENDS.values()))}
"""Backend -> column heading, in report column order (both from :data:`BACKENDS`)."""

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

FRAMEWORK_NAMES = {"mlx": "MLX", "torch": "torch"}
MODES = ("pinned", "timeline")
"""How an environment gets its torch: pinned by the ASV matrix (for every commit), or each commit's own."""


class Stack(NamedTuple):
    """The framework versions a timeline commit pins; None where that framework had no release yet."""

    mlx: str | None
    torch: str | None


def timeline_stacks() -> dict[str, Stack]:
    """Tag -> the pair its commit pins, from the committed catalogs: the plan the timeline repository is built from."""
    return {commit.tag: Stack(commit.mlx, commit.torch) for commit in timeline.plan()}


def version_label(framework: str, version: str) -> str:
    """A history column's heading: the MLX tag (``v0.31.1``, as ``asv compare`` names it) or ``torch 2.13.0``."""
    return f"v{version}" if framework == "mlx" else f"{framework} {version}"


@dataclass(frozen=True)
class Series:
    """One machine's results in one ASV environment: what one table or plot line is drawn from.

    ASV keeps one series per machine and environment; a pinned environment
    and a timeline one measured different pairs at the same commit, so they
    are never mixed.
    """

    machine: str
    env: str
    pin: str | None
    """The torch version the environment pins (pinned mode); None where each commit brings its own (timeline)."""

    @property
    def mode(self) -> str:
        return "pinned" if self.pin else "timeline"


class Point(NamedTuple):
    """One column of a backend's history: a release of its framework, at the earliest commit that measured it."""

    label: str
    release: str
    version: str | None


class Key(NamedTuple):
    """Where one table value comes from."""

    series: str
    release: str
    op: str
    variant: str
    backend: str


class _Pair(NamedTuple):
    """Two commits of one series, as the noise tests see them."""

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


def ratio(first: Value, other: Value) -> Value:
    """``t_first / t_other`` (the race's cell): failed where either failed, n/a where either is n/a."""
    if isinstance(first, float) and isinstance(other, float):
        return first / other
    return FAILED if FAILED in (first, other) else None


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


def format_ratio(value: Value) -> str:
    """A time ratio: ``3.72x`` (two decimals), ``0.25x``, ``12.4x``."""
    if not isinstance(value, float):
        return format_ms(value)
    return f"{value:.1f}x" if value >= 10 else f"{value:.2f}x" if value >= 0.995 else f"{value:#.2g}x"


def format_share(value: Value) -> str:
    """An unsigned whole percentage (roofline share, spread)."""
    return f"{math.floor(value + 0.5)}%" if isinstance(value, float) else "n/a"


FORMATTERS: dict[str, Callable[[Value], str]] = {
    "ms": format_ms,
    "pct": format_pct,
    "change": format_change,
    "rate": format_rate,
    "ratio": format_ratio,
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
        mode: str | None = None,
        stacks: Mapping[str, Stack] | None = None,
    ) -> None:
        if how not in AGGREGATES:
            raise UsageError(f"unknown aggregation {how!r}; valid: {', '.join(AGGREGATES)}")
        if metric not in metrics.METRICS:
            raise UsageError(f"unknown metric {metric!r}; valid metrics: {', '.join(metrics.METRICS)}")
        if mode is not None and mode not in MODES:
            raise UsageError(f"unknown mode {mode!r}; valid modes: {', '.join(MODES)}")
        self.how, self.metric = how, metric
        self.machines = _pick_machines(results, machines)
        self.backends = [b.name for b in selection.backends(backends, order=report_order(list(BACKENDS.values())))]
        self.releases = _pick_releases(results.releases, release_range)
        if metric == "roofline":
            missing = [m for m in self.machines if not (ceilings or {}).get(m)]
            if missing:
                raise UsageError(
                    f"no ceilings for {', '.join(missing)}: run `mlxbench calibrate` on that machine first"
                )
        if preset is not None and preset not in PRESETS:
            raise UsageError(f"unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}")
        self._stacks = dict(timeline_stacks() if stacks is None else stacks)
        # Presets measure different sizes: one table never mixes them.
        wanted = None if preset is None else {(op.name, v.id) for op in CATALOG.values() for v in op.variants(preset)}
        kept = [
            m
            for m in results.measurements
            if m.machine in self.machines
            and m.release in self.releases
            and (wanted is None or (m.op, m.variant) in wanted)
            and (mode is None or ("pinned" if m.torch else "timeline") == mode)
        ]
        self._series = _split_series(self.machines, kept)
        self.series = list(self._series)
        """Series ids, grouped by chip configuration like :attr:`machines`."""
        self._machine_config = {m: results.config(m) for m in self.machines}
        self._config = {i: self._machine_config[s.machine] for i, s in self._series.items()}
        self._machine_info = {i: results.machines.get(s.machine, {}) for i, s in self._series.items()}
        self._repeatability = {
            i: results.repeatability.get(s.machine, noise.DEFAULT_FLOOR) for i, s in self._series.items()
        }
        self.ceilings = {i: dict((ceilings or {}).get(s.machine, {})) for i, s in self._series.items()}
        ids = {(s.machine, s.env): i for i, s in self._series.items()}
        self._ms: dict[Key, Value] = {}
        self._peak_mb: dict[Key, Value] = {}
        self._spread: dict[Key, float] = {}
        # The noise tests use every backend and op of the preset (controls), whatever the tables show.
        self._runs: dict[tuple[str, str, str], dict[tuple[str, str], noise.Stats]] = {}
        """(series, release, backend) -> (op, variant) -> the time measurement's statistics."""
        self._pairs: dict[tuple[str, str, str], _Pair] = {}
        self._busy: set[Key] = set()
        """Time results sampled on a busy machine after every re-measurement: no change is called from them."""
        for m in kept:
            series = ids[(m.machine, m.env)]
            key = Key(series, m.release, m.op, m.variant, m.backend)
            if m.kind == "time" and m.ok:
                self._runs.setdefault((series, m.release, m.backend), {})[(m.op, m.variant)] = m.stats()
                if m.busy:
                    self._busy.add(key)
            if m.backend in self.backends and (ops is None or m.op in ops):
                if m.kind == "peakmem":
                    self._peak_mb[key] = m.value / 1e6 if m.ok else _ms(m)
                    continue
                self._ms[key] = _ms(m)
                if m.ok and m.q25 is not None and m.q75 is not None:
                    self._spread[key] = (m.q75 - m.q25) / m.value * 100.0
        self._measured = {(k.series, k.release, k.backend) for k, v in self._ms.items() if isinstance(v, float)}
        """(series, release, backend) with at least one number: where a backend was measured."""

    def representatives(self) -> list[str]:
        """The series of one machine per chip configuration: the machine with results at the most releases."""
        releases: dict[str, set[str]] = {}
        for series, s in self._series.items():
            releases.setdefault(s.machine, set()).update(self.releases_of(series))
        best: dict[str, str] = {}
        for machine, have in releases.items():  # machine order: by configuration, then name
            config = self._machine_config[machine]
            if config not in best or len(have) > len(releases[best[config]]):
                best[config] = machine
        return [series for series, s in self._series.items() if s.machine in best.values()]

    def label(self, series: str) -> str:
        """How headers name a series: its chip configuration, plus the machine and environment where needed.

        The machine where its name is not the configuration's; the environment
        where the machine has several, so two series never read the same.
        """
        s, config = self._series[series], self._config[series]
        name = s.machine if config == s.machine else f"{config}, machine {s.machine}"
        return name if series == s.machine else f"{name}, environment {s.env}"

    def machine_of(self, series: str) -> str:
        """The machine a series belongs to (the README shows one machine's series per chip)."""
        return self._series[series].machine

    def mode(self, series: str) -> str:
        """``pinned`` (the environment pins torch for every commit) or ``timeline`` (each commit's own torch)."""
        return self._series[series].mode

    def _mode_note(self, series: str) -> str:
        s = self._series[series]
        if s.pin:
            return (
                f"Pinned mode: torch {s.pin} at every commit (the environment {s.env} pins it), "
                "so only MLX moves along this series."
            )
        return (
            f"Timeline mode: each commit's own torch (the environment {s.env or '(unnamed)'} pins none), "
            "so MLX moves at MLX commits and torch at torch commits."
        )

    # -- what exists -----------------------------------------------------
    def releases_of(self, series: str) -> list[str]:
        have = {k.release for k in self._ms if k.series == series}
        return [r for r in self.releases if r in have]

    def backends_of(self, series: str) -> list[str]:
        """Backends with at least one number in this series (the others get no column)."""
        ran = {b for s, _, b in self._measured if s == series}
        return [b for b in COLUMN_NAMES if b in ran and b in self.backends]

    def races(self, series: str) -> list[tuple[str, str]]:
        """The (MLX, torch) backend pairs of :data:`RACES` measured together at some commit of this series."""
        return [(a, b) for a, b in RACES if self.race_points(series, a, b)]

    def points(self, series: str, backend: str) -> list[Point]:
        """The backend's history columns: one per release of its framework, at the earliest commit that measured it.

        Later commits that measured the same release again (torch at every MLX
        commit of a pinned environment, MLX at the torch commits of a timeline)
        are no columns: nothing of this backend changed there, so what differs
        is the machine's drift, and those commits are the other framework's
        controls. A commit whose versions are unknown (a hash, not a timeline
        tag) is its own column, headed by its name.
        """
        framework = BACKENDS[backend].framework
        out: dict[str, Point] = {}
        for release in self.releases_of(series):
            if (series, release, backend) in self._measured:
                version = self._versions(series, release)[framework]
                label = version_label(framework, version) if version else release
                out.setdefault(label, Point(label, release, version))
        return list(out.values())

    def race_points(self, series: str, mlx_backend: str, torch_backend: str) -> list[str]:
        """Commits where both backends were measured, the earliest per (MLX, torch) pair: a race's columns."""
        out: dict[tuple[str | None, ...], str] = {}
        for release in self.releases_of(series):
            if all((series, release, b) in self._measured for b in (mlx_backend, torch_backend)):
                versions = self._versions(series, release)
                known = versions["mlx"] is not None and versions["torch"] is not None
                out.setdefault((versions["mlx"], versions["torch"]) if known else (release,), release)
        return list(out.values())

    def _variants(self, series: str, release: str) -> dict[str, list[str]]:
        """op -> its variants with results, in catalog order (ops sorted by name)."""
        out: dict[str, list[str]] = {}
        for k in self._ms:
            if k.series == series and k.release == release and k.variant not in out.setdefault(k.op, []):
                out[k.op].append(k.variant)
        return {
            op: sorted(variants, key=lambda v: (_CATALOG_ORDER.get((op, v), len(_CATALOG_ORDER)), v))
            for op, variants in sorted(out.items())
        }

    def _ops(self, series: str, releases: Sequence[str]) -> dict[str, list[str]]:
        """op -> its variants as of the newest of ``releases`` that has it, ops sorted: the rows over time."""
        ops: dict[str, list[str]] = {}
        for release in reversed(releases):
            for op, variants in self._variants(series, release).items():
                ops.setdefault(op, variants)
        return dict(sorted(ops.items()))

    def _op_value(self, series: str, release: str, op: str, variants: Sequence[str], backend: str) -> Value:
        return aggregate((self._ms.get(Key(series, release, op, v, backend)) for v in variants), self.how)

    def _speedup_columns(self, backends: Sequence[str]) -> list[tuple[str, str]]:
        if self.metric != "time":
            return []
        return [(a, b) for a, b in SPEEDUPS if a in backends and b in backends]

    def stack(self, series: str, release: str) -> str:
        """The pair measured at ``release``, as headers name it: ``mlx v0.32.4, torch 2.13.0 (pinned)``."""
        versions = self._versions(series, release)
        known = release in self._stacks
        mlx = f"v{versions['mlx']}" if versions["mlx"] else "none" if known else "unknown"
        torch = versions["torch"] or ("none" if known else "unknown")
        commit = "" if known else f"commit {release}: "
        return f"{commit}mlx {mlx}, torch {torch} ({self.mode(series)})"

    def _header(self, series: str, release: str) -> dict[str, str | None]:
        s, versions = self._series[series], self._versions(series, release)
        return {
            "config": self._config[series],
            "machine": s.machine,
            "environment": s.env,
            "mode": s.mode,
            "release": release,
            "mlx": versions["mlx"],
            "torch": versions["torch"],
            "metric": self.metric,
        }

    def noisy(self, series: str, release: str) -> list[tuple[str, str, str, float]]:
        """(op, variant, backend, IQR %) of every result too spread out to trust."""
        return sorted(
            (k.op, k.variant, k.backend, spread)
            for k, spread in self._spread.items()
            if k.series == series and k.release == release and spread > SPREAD_LIMIT
        )

    # -- noise -----------------------------------------------------------
    def _versions(self, series: str, release: str) -> dict[str, str | None]:
        """Framework -> version measured at ``release`` in ``series``; None where unknown (it then counts as changed).

        The pair the commit pins (MLX and torch commits alike), with the
        environment's torch in its place where the environment pins one: a
        pinned environment measured that torch at every commit. A commit that
        is not a timeline tag (a hash) has no known versions but the pin.
        """
        stack = self._stacks.get(release, Stack(None, None))
        return {"mlx": stack.mlx, "torch": self._series[series].pin or stack.torch}

    def _pair(self, series: str, before: str, after: str) -> _Pair:
        """Which frameworks changed between two commits, and the pair's between-run noise floor.

        The floor is the drift of the control benchmarks (backends whose
        framework did not change), one ratio per op and backend as the tables
        aggregate them, else the machine's repeatability or the default.
        """
        if (series, before, after) in self._pairs:
            return self._pairs[(series, before, after)]
        old, new = self._versions(series, before), self._versions(series, after)
        changed = noise.changed_frameworks(old, new)
        mean = AGGREGATES[self.how]
        controls, ratios = [], []
        for backend in BACKENDS.values():
            a = self._runs.get((series, before, backend.name), {})
            b = self._runs.get((series, after, backend.name), {})
            if backend.framework in changed or not a or not b:
                continue
            controls.append(backend.column)
            for op in sorted({op for op, _ in a}):
                shared = [v for o, v in a if o == op and (o, v) in b]
                if shared:
                    ratios.append(mean([b[(op, v)].median for v in shared]) / mean([a[(op, v)].median for v in shared]))
        kept = ", ".join(f"{f} {old[f]}" for f in sorted(old.keys() - changed))
        what = f"{len(ratios)} op results of {', '.join(controls)}, whose {kept} is the same at both points"
        pair = _Pair(frozenset(changed), noise.floor_from_controls(ratios, what, self._repeatability[series]))
        self._pairs[(series, before, after)] = pair
        return pair

    def _judged(
        self,
        value: Value,
        series: str,
        op: str,
        variants: Sequence[str],
        before: tuple[str, str],
        after: tuple[str, str],
        floor: noise.Floor,
    ) -> Value:
        """A percentage from ``before`` to ``after`` (each a (release, backend)) with its noise verdict.

        n/a and failed stay as they are; a number becomes a :class:`Change`, which
        never beats the noise where a variant on either side was sampled on a busy machine.
        """
        if not isinstance(value, float):
            return value
        if any(
            Key(series, release, op, v, backend) in self._busy for release, backend in (before, after) for v in variants
        ):
            return Change(value, False)
        old, new = (
            {v: self._runs[(series, release, backend)][(op, v)] for v in variants}
            for release, backend in (before, after)
        )
        return Change(value, noise.judge(old, new, floor, AGGREGATES[self.how]).changed)

    def _race_change(
        self, series: str, op: str, variants: Sequence[str], before: str, after: str, race: tuple[str, str]
    ) -> Value:
        """The change of the MLX/torch ratio from ``before`` to ``after``, with its noise verdict.

        The ratio moves with both backends, but only a backend whose framework
        changed between the two commits can have changed; the other one's
        difference is the machine's drift. So the ratio's change beats the
        noise only where such a backend changed beyond the noise (the history
        table's verdict) in the ratio's direction (a slower MLX raises it, a
        slower torch lowers it), and the ratio moved more than the pair's floor.
        """
        times = {
            backend: (
                self._op_value(series, before, op, variants, backend),
                self._op_value(series, after, op, variants, backend),
            )
            for backend in race
        }
        value = change(ratio(*(times[b][0] for b in race)), ratio(*(times[b][1] for b in race)))
        if not isinstance(value, float):
            return value
        pair = self._pair(series, before, after)
        moved = False
        for backend, direction in zip(race, (1.0, -1.0)):
            if BACKENDS[backend].framework not in pair.changed:
                continue
            own = self._judged(
                change(*times[backend]), series, op, variants, (before, backend), (after, backend), pair.floor
            )
            moved |= isinstance(own, Change) and own.beats_noise and direction * own * value > 0
        return Change(value, moved and abs(value) > pair.floor.fraction * 100.0)

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
    def _notes(self, series: str, release: str, per_variant: bool) -> list[str]:
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
        notes = [f"{lead}; {what}.", self._mode_note(series)]
        notes += _machine_notes(self._machine_info[series], self.backends_of(series))
        if self.metric == "time":
            notes.append(
                "`a/b speedup` = (t_b / t_a - 1) x 100: +100% means a takes half of b's time. "
                "Both backends ran in the same run, so a speedup is judged within the run only: it shows where "
                "ASV's test (Mann-Whitney U on recorded samples, else non-overlapping 99% confidence intervals) "
                + ("finds the two different" if per_variant else "finds most variants different in its direction")
                + ", else `~` (csv/json keep the number, with a `beats noise` flag)."
            )
        mlx_shown = any(BACKENDS[b].framework == "mlx" for b in self.backends_of(series))
        if mlx_shown and not per_variant and any(op in COMPILED_BY_MLX_NN for op in self._variants(series, release)):
            notes.append(
                f"{', '.join(COMPILED_BY_MLX_NN)}: MLX's side is an mlx.nn function that MLX compiles itself "
                f"(mx.compile, shapeless) since {COMPILED_SINCE}, so the plain MLX backends run compiled code too and "
                "their compile speedup compares compiled with compiled."
            )
        if self.metric == "roofline":
            ceilings = self.ceilings[series]
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
        noisy = self.noisy(series, release)
        if noisy:
            notes.append(
                f"{len(noisy)} result(s) have an interquartile range over {SPREAD_LIMIT:.0f}% of the median "
                "(too noisy to trust; `--table detailed` shows each spread)."
            )
        busy = sorted(
            f"{k.op} {k.variant} on {k.backend}" for k in self._busy if (k.series, k.release) == (series, release)
        )
        if busy:
            notes.append(
                f"{len(busy)} result(s) sampled while other processes used the machine, after every re-measurement "
                f"(load.jsonl): {', '.join(busy[:5])}{' ...' if len(busy) > 5 else ''}."
            )
        return notes

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
            self._notes(series, release, per_variant),
            columns,
            meta={**self._header(series, release), "aggregation": self.how},
        )
        for op, variants in self._variants(series, release).items():
            for group in [[v] for v in variants] if per_variant else [variants]:
                row: list[Value] = [op] + ([group[0]] if per_variant else [])
                for b in backends:
                    row += self._metric_cells(series, release, op, group, b)
                    if per_variant:
                        row.append(self._spread.get(Key(series, release, op, group[0], b)))
                times = {b: self._op_value(series, release, op, group, b) for b in backends}
                row += [
                    self._judged(
                        speedup(times[a], times[b]), series, op, group, (release, a), (release, b), noise.WITHIN_RUN
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
        pairs = {f"{labels[i]}->{labels[j]}": self._pair(series, releases[i], releases[j]) for i, j in steps}
        s = self._series[series]
        meta = {
            "config": self._config[series],
            "machine": s.machine,
            "environment": s.env,
            "mode": s.mode,
            "aggregation": self.how,
            "points": dict(zip(labels, releases)),
            "noise_floors": {
                name: {"fraction": pair.floor.fraction, "source": pair.floor.source} for name, pair in pairs.items()
            },
        }
        return Table(kind, title, notes + self._noise_notes(series, kind, pairs), columns, meta=meta), steps

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
            "release this backend measured, at the earliest commit that measured it; in parentheses the change in "
            f"runtime from the previous {name} release: negative is faster.",
            self._mode_note(series),
            *self._points_notes(series, backend, points),
        ]
        table, steps = self._over_time(
            "history",
            series,
            f"History: {self.label(series)}, {COLUMN_NAMES[backend]} ({backend}) across {name} releases",
            labels,
            releases,
            notes,
        )
        table.meta.update(backend=backend, framework=framework)
        for op, variants in self._ops(series, releases).items():
            values = [self._op_value(series, r, op, variants, backend) for r in releases]
            changes = {
                (i, j): self._judged(
                    change(values[i], values[j]),
                    series,
                    op,
                    variants,
                    (releases[i], backend),
                    (releases[j], backend),
                    self._pair(series, releases[i], releases[j]).floor,
                )
                for i, j in steps
            }
            table.rows.append(self._timed_row(op, values, changes))
        return table

    def _points_notes(self, series: str, backend: str, points: Sequence[Point]) -> list[str]:
        """Where the history's columns were measured, and what became of the commits that are not columns."""
        framework = BACKENDS[backend].framework
        pin = self._series[series].pin
        measured = [r for r in self.releases_of(series) if (series, r, backend) in self._measured]
        if framework == "torch" and pin and points:
            return [
                f"torch is pinned to {pin} in this environment: this backend measured that one torch at "
                f"{len(measured)} commit(s), so its history is one column, from the earliest ({points[0].release}); "
                "the others are the drift controls of the MLX histories, not changes. A torch history needs "
                "timeline mode (an environment without torch in the ASV matrix)."
            ]
        notes = []
        elsewhere = [
            f"{p.label} at {p.release}"
            for p in points
            if p.version is not None and p.release != f"{TAG_PREFIX[framework]}{p.version}"
        ]
        if elsewhere:
            notes.append(f"Measured at another commit than the release's own: {', '.join(elsewhere)}.")
        if len(measured) > len(points):
            notes.append(
                f"{len(measured) - len(points)} later commit(s) measured a {FRAMEWORK_NAMES[framework]} release "
                "already shown (only the other framework changed there): no columns, they are the drift controls "
                "of the other framework's history."
            )
        return notes

    def race(self, series: str, mlx_backend: str, torch_backend: str) -> Table:
        """The MLX/torch time ratio of each op over the commits where both backends were measured."""
        releases = self.race_points(series, mlx_backend, torch_backend)
        mlx_name, torch_name = COLUMN_NAMES[mlx_backend], COLUMN_NAMES[torch_backend]
        stacks = {r: self._versions(series, r) for r in releases}
        notes = [
            f"t_{mlx_name} / t_{torch_name}: MLX's time over torch's on the same kind of device ({self.how} mean over "
            "each op's variants at the newest point, per backend); 2.00x means MLX takes twice torch's time, 0.50x "
            "half. One column per commit where both were measured (the earliest of each MLX/torch pair).",
            self._mode_note(series),
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
            values = [ratio(*(self._op_value(series, r, op, variants, b) for b in race)) for r in releases]
            changes = {
                (i, j): self._race_change(series, op, variants, releases[i], releases[j], race) for i, j in steps
            }
            table.rows.append(self._timed_row(op, values, changes))
        return table

    def _noise_notes(self, series: str, kind: str, pairs: Mapping[str, _Pair]) -> list[str]:
        """What `~` means in a history or race table, and each pair's noise floor with where it comes from."""
        if not pairs:
            return []
        sampled = any(
            st.samples is not None for (s, _, _), run in self._runs.items() if s == series for st in run.values()
        )
        test = (
            "ASV's test ("
            + ("Mann-Whitney U on the recorded samples, else" if sampled else "no samples recorded here, so")
            + " non-overlapping 99% confidence intervals) finds most of the op's variants different in its direction"
        )
        if kind == "history":
            rule = (
                f"A change shows as +x%/-x% only when it beats the noise: {test}, and it exceeds the pair's noise "
                "floor, the machine's drift between the two runs."
            )
        else:
            rule = (
                "In parentheses the ratio's change from the previous column. It shows as +x%/-x% only when a backend "
                "whose framework changed between the two commits changed this op beyond the noise, as the history "
                f"tables judge it ({test}, and the change exceeds the pair's noise floor), in the ratio's direction "
                "(a slower MLX raises it, a slower torch lowers it), and the ratio moved more than that floor: the "
                "other backend's difference is the machine's drift."
            )
        by_source: dict[str, list[str]] = {}
        for name, pair in pairs.items():
            by_source.setdefault(pair.floor.source, []).append(f"{name} {pair.floor.fraction * 100:.0f}%")
        busy = sum(k.series == series for k in self._busy)
        marked = (
            [
                f"{busy} result(s) of this series stayed busy (other processes used the machine while they sampled, "
                "after every re-measurement): no change is called from them."
            ]
            if busy
            else []
        )
        return [
            rule + " Otherwise `~` (csv/json keep the number, with a `beats noise` flag).",
            "Noise floor per pair: " + "; ".join(f"{', '.join(p)} ({source})" for source, p in by_source.items()) + ".",
            *marked,
        ]

    def tables(self, kinds: Sequence[str]) -> list[Table]:
        """The requested kinds for each series; average/detailed at its newest release, races where both ran."""
        out: list[Table] = []
        for series in self.series:
            releases = self.releases_of(series)
            if not releases:
                continue
            for kind in kinds:
                if kind == "history":
                    out.extend(self.history(series, b) for b in self.backends_of(series))
                elif kind == "race":
                    out.extend(self.race(series, *race) for race in self.races(series))
                else:
                    out.append(getattr(self, kind)(series, releases[-1]))
        if not out:
            raise UsageError("no results match the selected machine, backend and release range")
        return out


def _machine_notes(info: Mapping[str, object], backends: Sequence[str]) -> list[str]:
    """Threads, float32 policy and a virtual machine, as the machine recorded them (``mlxbench machine``).

    Older records say nothing of these, and the notes then make no claim.
    """
    notes = []
    if info.get("virtual"):
        notes.append(
            f"Measured in a virtual machine ({info['virtual']}): the numbers describe the VM, not the bare chip."
        )
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


def _split_series(machines: Sequence[str], measurements: Iterable[Measurement]) -> dict[str, Series]:
    """Series id -> series: one per machine and environment, in machine order, pinned environments first.

    A machine with one environment is its own series id (its name); one
    with several gets ``"<machine> [<environment>]"`` per environment.
    """
    envs: dict[str, dict[str, str | None]] = {}
    for m in measurements:
        envs.setdefault(m.machine, {})[m.env] = m.torch
    out: dict[str, Series] = {}
    for machine in machines:
        found = sorted(envs.get(machine, {}).items(), key=lambda env: (env[1] is None, env[0]))
        for env, pin in found:
            out[machine if len(found) == 1 else f"{machine} [{env}]"] = Series(machine, env, pin)
    return out
