"""The measurements a report draws from: filtered, split into series and indexed; and what exists in them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from mlxbench import noise, selection
from mlxbench.catalog import CATALOG, PRESETS, VARIANTS
from mlxbench.catalog.spec import DTYPES
from mlxbench.errors import UsageError
from mlxbench.harness.backends import BACKENDS, report_order
from mlxbench.harness.ceilings import Ceiling
from mlxbench.report import metrics
from mlxbench.report.formatting import AGGREGATES, COLUMN_NAMES, SPREAD_LIMIT, aggregate
from mlxbench.report.model import MODES, Key, Point, Series, Stack, Value, timeline_stacks, version_label
from mlxbench.store.results import FAILED, Measurement, ResultSet

_CATALOG_ORDER = {key: i for i, key in enumerate(VARIANTS)}


class ReportData:
    """A :class:`ResultSet` filtered as a :class:`~mlxbench.report.tables.Report` asks, indexed by :class:`Key`.

    The series it splits into, the releases, backends, ops and variants each
    has results for, and the statistics the noise judgement compares.
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
        dtype: str | None = None,
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
        if dtype is not None and dtype not in DTYPES:
            raise UsageError(f"unknown dtype {dtype!r}; valid dtypes: {', '.join(DTYPES)}")
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
            and (dtype is None or m.dtype == dtype)
        ]
        self.series_by_id = _split_series(self.machines, kept)
        """Series id -> the machine, environment and pin it stands for."""
        self.series = list(self.series_by_id)
        """Series ids, grouped by chip configuration like :attr:`machines`."""
        self._machine_config = {m: results.config(m) for m in self.machines}
        self._config = {i: self._machine_config[s.machine] for i, s in self.series_by_id.items()}
        self.machine_info = {i: results.machines.get(s.machine, {}) for i, s in self.series_by_id.items()}
        self.repeatability = {
            i: results.repeatability.get(s.machine, noise.DEFAULT_FLOOR) for i, s in self.series_by_id.items()
        }
        self.ceilings = {i: dict((ceilings or {}).get(s.machine, {})) for i, s in self.series_by_id.items()}
        ids = {(s.machine, s.env, s.dtype): i for i, s in self.series_by_id.items()}
        self._ms: dict[Key, Value] = {}
        self._peak_mb: dict[Key, Value] = {}
        self._spread: dict[Key, float] = {}
        # The noise tests use every backend and op of the preset (controls), whatever the tables show.
        self.runs: dict[tuple[str, str, str], dict[tuple[str, str], noise.Stats]] = {}
        """(series, release, backend) -> (op, variant) -> the time measurement's statistics."""
        self.pairs: dict[tuple[str, str, str], noise.Pair] = {}
        """(series, before, after) -> the two commits as the noise tests see them (filled as tables ask)."""
        self.busy: set[Key] = set()
        """Time results sampled on a busy machine after every re-measurement: no change is called from them."""
        for m in kept:
            series = ids[(m.machine, m.env, m.dtype)]
            key = Key(series, m.release, m.op, m.variant, m.backend)
            if m.kind == "time" and m.ok:
                self.runs.setdefault((series, m.release, m.backend), {})[(m.op, m.variant)] = m.stats()
                if m.busy:
                    self.busy.add(key)
            if m.backend in self.backends and (ops is None or m.op in ops):
                if m.kind == "peakmem":
                    self._peak_mb[key] = m.value / 1e6 if m.ok else _ms(m)
                    continue
                self._ms[key] = _ms(m)
                if m.ok and m.q25 is not None and m.q75 is not None:
                    self._spread[key] = (m.q75 - m.q25) / m.value * 100.0
        self.measured = {(k.series, k.release, k.backend) for k, v in self._ms.items() if isinstance(v, float)}
        """(series, release, backend) with at least one number: where a backend was measured."""

    def representatives(self) -> list[str]:
        """The series of one machine per chip configuration: the machine with results at the most releases."""
        releases: dict[str, set[str]] = {}
        for series, s in self.series_by_id.items():
            releases.setdefault(s.machine, set()).update(self.releases_of(series))
        best: dict[str, str] = {}
        for machine, have in releases.items():  # machine order: by configuration, then name
            config = self._machine_config[machine]
            if config not in best or len(have) > len(releases[best[config]]):
                best[config] = machine
        return [series for series, s in self.series_by_id.items() if s.machine in best.values()]

    def label(self, series: str) -> str:
        """How headers name a series: its chip configuration, plus the machine, environment and dtype where needed.

        The machine where its name is not the configuration's; the environment
        where the machine has several; the dtype where it is not float32; so
        two series never read the same.
        """
        s, config = self.series_by_id[series], self._config[series]
        name = s.machine if config == s.machine else f"{config}, machine {s.machine}"
        if len({t.env for t in self.series_by_id.values() if t.machine == s.machine}) > 1:
            name = f"{name}, environment {s.env}"
        return name if s.dtype == DTYPES[0] else f"{name}, {s.dtype}"

    def machine_of(self, series: str) -> str:
        """The machine a series belongs to (the README shows one machine's series per chip)."""
        return self.series_by_id[series].machine

    def mode(self, series: str) -> str:
        """``pinned`` (the environment pins torch for every commit) or ``timeline`` (each commit's own torch)."""
        return self.series_by_id[series].mode

    # -- what exists -----------------------------------------------------
    def releases_of(self, series: str) -> list[str]:
        have = {k.release for k in self._ms if k.series == series}
        return [r for r in self.releases if r in have]

    def backends_of(self, series: str) -> list[str]:
        """Backends with at least one number in this series (the others get no column)."""
        ran = {b for s, _, b in self.measured if s == series}
        return [b for b in COLUMN_NAMES if b in ran and b in self.backends]

    def points(self, series: str, backend: str) -> list[Point]:
        """The backend's history columns: one per release of its framework, at the commit that measured it best.

        Each release's column comes from the commit that measured the most of
        this backend's variants; of equals, the earliest (the release's own
        commit), except for the torch a pinned series holds fixed, which every
        commit measures: its newest complete measurement. Other commits that
        measured the same release are no columns: nothing of this backend
        changed there, so what differs is the machine's drift, and those
        commits are the other framework's controls. A commit whose versions
        are unknown (a hash, not a timeline tag) is its own column, headed by
        its name.
        """
        framework = BACKENDS[backend].framework
        newest_first = framework == "torch" and self.mode(series) == "pinned"
        count: dict[str, int] = {}
        for k, v in self._ms.items():
            if k.series == series and k.backend == backend and isinstance(v, float) and not math.isnan(v):
                count[k.release] = count.get(k.release, 0) + 1
        best: dict[str, tuple[int, int, Point]] = {}
        for i, release in enumerate(self.releases_of(series)):
            if (series, release, backend) in self.measured:
                version = self.versions(series, release)[framework]
                label = version_label(framework, version) if version else release
                rank = (count.get(release, 0), i if newest_first else -i)
                if label not in best or rank > best[label][:2]:
                    best[label] = (*rank, Point(label, release, version))
        return [point for *_, point in best.values()]  # a label keeps the place of its first commit

    def race_points(self, series: str, mlx_backend: str, torch_backend: str) -> list[str]:
        """Commits where both backends were measured, the earliest per (MLX, torch) pair: a race's columns."""
        out: dict[tuple[str | None, ...], str] = {}
        for release in self.releases_of(series):
            if all((series, release, b) in self.measured for b in (mlx_backend, torch_backend)):
                versions = self.versions(series, release)
                known = versions["mlx"] is not None and versions["torch"] is not None
                out.setdefault((versions["mlx"], versions["torch"]) if known else (release,), release)
        return list(out.values())

    def variants(self, series: str, release: str) -> dict[str, list[str]]:
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
            for op, variants in self.variants(series, release).items():
                ops.setdefault(op, variants)
        return dict(sorted(ops.items()))

    def op_value(self, series: str, release: str, op: str, variants: Sequence[str], backend: str) -> Value:
        return aggregate((self._ms.get(Key(series, release, op, v, backend)) for v in variants), self.how)

    def stack(self, series: str, release: str) -> str:
        """The pair measured at ``release``, as headers name it: ``mlx v0.32.4, torch 2.13.0 (pinned)``."""
        versions = self.versions(series, release)
        known = release in self._stacks
        mlx = f"v{versions['mlx']}" if versions["mlx"] else "none" if known else "unknown"
        torch = versions["torch"] or ("none" if known else "unknown")
        commit = "" if known else f"commit {release}: "
        return f"{commit}mlx {mlx}, torch {torch} ({self.mode(series)})"

    def noisy(self, series: str, release: str) -> list[tuple[str, str, str, float]]:
        """(op, variant, backend, IQR %) of every result too spread out to trust."""
        return sorted(
            (k.op, k.variant, k.backend, spread)
            for k, spread in self._spread.items()
            if k.series == series and k.release == release and spread > SPREAD_LIMIT
        )

    def versions(self, series: str, release: str) -> dict[str, str | None]:
        """Framework -> version measured at ``release`` in ``series``; None where unknown (it then counts as changed).

        The pair the commit pins (MLX and torch commits alike), with the
        environment's torch in its place where the environment pins one: a
        pinned environment measured that torch at every commit. A commit that
        is not a timeline tag (a hash) has no known versions but the pin.
        """
        stack = self._stacks.get(release, Stack(None, None))
        return noise.point_versions({"mlx": stack.mlx, "torch": stack.torch}, self.series_by_id[series].pin)


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
    """Series id -> series: one per machine, environment and dtype, in machine order, pinned environments first.

    A machine with one environment in float32 is its own series id (its name);
    ``"<machine> [<environment>]"`` where it has several environments, and
    ``"<machine> [float16]"`` (``[<environment>, float16]``) for another dtype.
    """
    envs: dict[str, dict[str, str | None]] = {}
    dtypes: dict[tuple[str, str], set[str]] = {}
    for m in measurements:
        envs.setdefault(m.machine, {})[m.env] = m.torch
        dtypes.setdefault((m.machine, m.env), set()).add(m.dtype)
    out: dict[str, Series] = {}
    for machine in machines:
        found = sorted(envs.get(machine, {}).items(), key=lambda env: (env[1] is None, env[0]))
        for env, pin in found:
            for dtype in (d for d in DTYPES if d in dtypes[(machine, env)]):
                parts = ([env] if len(found) > 1 else []) + ([] if dtype == DTYPES[0] else [dtype])
                out[f"{machine} [{', '.join(parts)}]" if parts else machine] = Series(machine, env, pin, dtype)
    return out
