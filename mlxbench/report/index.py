"""The results a :class:`~mlxbench.report.query.Query` keeps, split into series and looked up by :class:`Key`.

What exists (releases, backends, ops and variants per series), each value the tables show, and the
time statistics the noise judgement compares; reads only, decides nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from mlxbench import noise
from mlxbench.catalog import VARIANTS
from mlxbench.catalog.spec import DTYPES
from mlxbench.harness.benchmark_names import COUNTED, INSTRUCTIONS
from mlxbench.harness.ceilings import Ceiling
from mlxbench.report.formatting import COLUMN_NAMES, SPREAD_LIMIT, aggregate
from mlxbench.report.model import Key, Series, Stack, Value, timeline_stacks
from mlxbench.report.query import Query
from mlxbench.store.results import FAILED, Measurement, ResultSet

_CATALOG_ORDER = {key: i for i, key in enumerate(VARIANTS)}

Variant = tuple[str, str]
"""(op, variant)."""


class ResultIndex:
    """A :class:`ResultSet` filtered by a :class:`Query`, one series per machine, environment and dtype.

    ``stacks`` maps each timeline tag to the pair its commit pins (default: the committed catalogs'
    timeline); ``ceilings`` maps machine -> backend -> its calibrated ceilings.
    """

    def __init__(
        self,
        results: ResultSet,
        query: Query,
        stacks: Mapping[str, Stack] | None = None,
        ceilings: Mapping[str, Mapping[str, Ceiling]] | None = None,
    ) -> None:
        self.query = query
        kept = [m for m in results.measurements if query.keeps(m)]
        self._stacks = dict(timeline_stacks() if stacks is None else stacks)
        self.series_by_id = _split_series(query.machines, kept)
        """Series id -> the machine, environment and pin it stands for."""
        self.series = list(self.series_by_id)
        """Series ids, grouped by chip configuration like the query's machines."""
        self._machine_config = {m: results.config(m) for m in query.machines}
        self.machine_info = {i: results.machines.get(s.machine, {}) for i, s in self.series_by_id.items()}
        """Series id -> its machine's ``machine.json``."""
        self.repeatability = {
            i: results.repeatability.get(s.machine, noise.DEFAULT_FLOOR) for i, s in self.series_by_id.items()
        }
        """Series id -> its machine's measured repeatability, else the default floor."""
        self.ceilings = {i: dict((ceilings or {}).get(s.machine, {})) for i, s in self.series_by_id.items()}
        """Series id -> backend -> its machine's calibrated ceilings."""
        self._ms: dict[Key, Value] = {}
        self._peak_mb: dict[Key, Value] = {}
        self._counts: dict[tuple[Key, str], float] = {}
        self._counted: dict[tuple[str, str], dict[str, dict[str, list[str]]]] = {}
        """(series, backend) -> release -> op -> the variants with counted instructions."""
        self._spread: dict[Key, float] = {}
        self._runs: dict[tuple[str, str, str], dict[Variant, noise.Stats]] = {}
        self._started: dict[tuple[str, str, str], list[int]] = {}
        self.busy: set[Key] = set()
        """Time results sampled on a busy machine after every re-measurement: no change is called from them."""
        ids = {(s.machine, s.env, s.dtype): i for i, s in self.series_by_id.items()}
        for m in kept:
            self._add(Key(ids[(m.machine, m.env, m.dtype)], m.release, m.op, m.variant, m.backend), m)
        self.measured = {(k.series, k.release, k.backend) for k, v in self._ms.items() if isinstance(v, float)}
        """(series, release, backend) with at least one number: where a backend was measured."""

    def _add(self, key: Key, m: Measurement) -> None:
        if m.kind == "time" and m.ok:  # every backend and op kept: the noise tests' controls
            self._runs.setdefault((key.series, key.release, key.backend), {})[(key.op, key.variant)] = m.stats()
            if m.started_at:
                self._started.setdefault((key.series, key.release, key.backend), []).append(m.started_at)
            if m.busy:
                self.busy.add(key)
        if not self.query.shows(m):
            return
        if m.kind in COUNTED:
            if m.ok:
                self._counts[(key, m.kind)] = float(m.value)
                if m.kind == INSTRUCTIONS:
                    by_release = self._counted.setdefault((key.series, key.backend), {})
                    by_release.setdefault(key.release, {}).setdefault(key.op, []).append(key.variant)
            return
        if m.kind == "peakmem":
            self._peak_mb[key] = m.value / 1e6 if m.ok else _ms(m)
            return
        self._ms[key] = _ms(m)
        if m.ok and m.q25 is not None and m.q75 is not None:
            self._spread[key] = (m.q75 - m.q25) / m.value * 100.0

    # -- values ----------------------------------------------------------
    def ms(self, key: Key) -> Value:
        """The time in milliseconds (failed, or None for n/a); None where nothing was measured."""
        return self._ms.get(key)

    def peak_mb(self, key: Key) -> Value:
        """The peak resident memory in MB; None where none was measured."""
        return self._peak_mb.get(key)

    def count(self, key: Key, kind: str = INSTRUCTIONS) -> float | None:
        """Callgrind's count of one call (instructions, LL misses or cycles: ``kind``); None where none was counted."""
        return self._counts.get((key, kind))

    def counted_releases(self, series: str, backend: str) -> list[str]:
        """The releases where ``backend`` has counted instructions in this series, in timeline order."""
        have = self._counted.get((series, backend), {})
        return [r for r in self.query.releases if r in have]

    def counted_variants(self, series: str, release: str, backend: str) -> dict[str, list[str]]:
        """op -> its variants counted at ``release`` on ``backend``, in catalog order (ops sorted by name)."""
        found = self._counted.get((series, backend), {}).get(release, {})
        return {
            op: sorted(vs, key=lambda v, op=op: _CATALOG_ORDER.get((op, v), len(_CATALOG_ORDER)))
            for op, vs in sorted(found.items())
        }

    def spread(self, key: Key) -> float | None:
        """The interquartile range in percent of the median; None where unknown."""
        return self._spread.get(key)

    def numbers(self, series: str, backend: str) -> dict[str, int]:
        """Release -> how many of the backend's variants have a number there (not n/a, not failed)."""
        count: dict[str, int] = {}
        for k, v in self._ms.items():
            if k.series == series and k.backend == backend and isinstance(v, float) and not math.isnan(v):
                count[k.release] = count.get(k.release, 0) + 1
        return count

    def op_value(self, series: str, release: str, op: str, variants: Sequence[str], backend: str) -> Value:
        """The op's time over ``variants``, aggregated as the query asks."""
        return aggregate((self._ms.get(Key(series, release, op, v, backend)) for v in variants), self.query.how)

    def stats(self, series: str, release: str, backend: str) -> Mapping[Variant, noise.Stats]:
        """(op, variant) -> the backend's time statistics at ``release`` (what ASV's test compares)."""
        return self._runs.get((series, release, backend), {})

    def measured_between(self, series: str, release: str, backend: str) -> tuple[int, int] | None:
        """The first and last ``started_at`` (ms since the epoch) of the backend's time results; None if unknown."""
        started = self._started.get((series, release, backend))
        return (min(started), max(started)) if started else None

    def runs_at(self, series: str, release: str) -> dict[str, Mapping[Variant, noise.Stats]]:
        """Backend -> :meth:`stats`, for every backend and op kept (the controls of :func:`mlxbench.noise.pair`)."""
        return {b: stats for (s, r, b), stats in self._runs.items() if (s, r) == (series, release)}

    def sampled(self, series: str) -> bool:
        """Whether any time result of the series recorded its samples (ASV's test then uses them)."""
        return any(
            st.samples is not None for (s, _, _), run in self._runs.items() if s == series for st in run.values()
        )

    # -- series ----------------------------------------------------------
    def config(self, series: str) -> str:
        """The chip configuration of the series' machine."""
        return self._machine_config[self.series_by_id[series].machine]

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
        in words where the machine has several; the dtype where it is not
        float32; so two series never read the same.
        """
        s, config = self.series_by_id[series], self.config(series)
        name = s.machine if config == s.machine else f"{config}, machine {s.machine}"
        if len({t.env for t in self.series_by_id.values() if t.machine == s.machine}) > 1:
            name = f"{name} ({self._environment(s)})"
        return name if s.dtype == DTYPES[0] else f"{name}, {s.dtype}"

    def setting(self, series: str) -> str:
        """The series beside its machine's others: ``torch 2.13.0 pinned, 1 thread``, and the dtype if not float32."""
        s = self.series_by_id[series]
        return self._environment(s) if s.dtype == DTYPES[0] else f"{self._environment(s)}, {s.dtype}"

    def _environment(self, s: Series) -> str:
        """The ASV environment in words (:attr:`Series.setting`), with its name where another of the machine's
        environments reads the same (they differ in Python, say)."""
        alike = {t.env for t in self.series_by_id.values() if t.machine == s.machine and t.setting == s.setting}
        return s.setting if len(alike) == 1 else f"{s.setting}, environment {s.env}"

    def machine_of(self, series: str) -> str:
        """The machine a series belongs to (the README shows one machine's series per chip)."""
        return self.series_by_id[series].machine

    def mode(self, series: str) -> str:
        """``pinned`` (the environment pins torch for every commit) or ``timeline`` (each commit's own torch)."""
        return self.series_by_id[series].mode

    # -- what exists -----------------------------------------------------
    def releases_of(self, series: str) -> list[str]:
        have = {k.release for k in self._ms if k.series == series}
        if self.query.metric == "instructions":  # the tables of counts: where something was counted
            have |= {r for (s, _), by_release in self._counted.items() if s == series for r in by_release}
        return [r for r in self.query.releases if r in have]

    def backends_of(self, series: str) -> list[str]:
        """Backends with at least one number in this series (the others get no column)."""
        ran = {b for s, _, b in self.measured if s == series}
        if self.query.metric == "instructions":
            ran |= {b for s, b in self._counted if s == series}
        return [b for b in COLUMN_NAMES if b in ran and b in self.query.backends]

    def variants(self, series: str, release: str) -> dict[str, list[str]]:
        """op -> its variants with results, in catalog order (ops sorted by name)."""
        out: dict[str, list[str]] = {}
        for k in self._ms:
            if k.series == series and k.release == release and k.variant not in out.setdefault(k.op, []):
                out[k.op].append(k.variant)
        if self.query.metric == "instructions":
            for backend in {b for s, b in self._counted if s == series}:
                for op, variants in self.counted_variants(series, release, backend).items():
                    out.setdefault(op, []).extend(v for v in variants if v not in out[op])
        return {
            op: sorted(variants, key=lambda v: (_CATALOG_ORDER.get((op, v), len(_CATALOG_ORDER)), v))
            for op, variants in sorted(out.items())
        }

    def ops_over(self, series: str, releases: Sequence[str]) -> dict[str, list[str]]:
        """op -> its variants as of the newest of ``releases`` that has it, ops sorted: the rows over time."""
        ops: dict[str, list[str]] = {}
        for release in reversed(releases):
            for op, variants in self.variants(series, release).items():
                ops.setdefault(op, variants)
        return dict(sorted(ops.items()))

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
        environment's torch in its place where the environment pins one
        (:func:`mlxbench.noise.point_versions`). A commit that is not a
        timeline tag (a hash) has no known versions but the pin.
        """
        stack = self._stacks.get(release, Stack(None, None))
        return noise.point_versions({"mlx": stack.mlx, "torch": stack.torch}, self.series_by_id[series].pin)


def _ms(m: Measurement) -> Value:
    if m.value == FAILED:
        return FAILED
    return m.value * 1e3 if m.ok else None


def _split_series(machines: Sequence[str], measurements: Iterable[Measurement]) -> dict[str, Series]:
    """Series id -> series: one per machine, environment and dtype, in machine order, pinned environments first.

    A machine with one environment in float32 is its own series id (its name);
    ``"<machine> [<environment>]"`` where it has several environments, and
    ``"<machine> [float16]"`` (``[<environment>, float16]``) for another dtype.
    """
    envs: dict[str, dict[str, tuple[str | None, str | None]]] = {}
    dtypes: dict[tuple[str, str], set[str]] = {}
    for m in measurements:
        envs.setdefault(m.machine, {})[m.env] = (m.torch, m.torch_threads)
        dtypes.setdefault((m.machine, m.env), set()).add(m.dtype)
    out: dict[str, Series] = {}
    for machine in machines:
        found = sorted(envs.get(machine, {}).items(), key=lambda env: (env[1][0] is None, env[0]))
        for env, (pin, threads) in found:
            for dtype in (d for d in DTYPES if d in dtypes[(machine, env)]):
                parts = ([env] if len(found) > 1 else []) + ([] if dtype == DTYPES[0] else [dtype])
                series = Series(machine, env, pin, dtype, threads)
                out[f"{machine} [{', '.join(parts)}]" if parts else machine] = series
    return out
