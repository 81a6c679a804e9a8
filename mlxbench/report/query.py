"""What a report asks of the results: machines, backends, releases, ops, preset, mode, dtype and metric, validated.

:meth:`Query.of` refuses (UsageError) what the results cannot answer; :meth:`Query.keeps` and
:meth:`Query.shows` then say which measurements the report reads and which its tables show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlxbench import selection
from mlxbench.catalog import CATALOG, PRESETS
from mlxbench.catalog.spec import DTYPES
from mlxbench.errors import UsageError
from mlxbench.harness.backends import BACKENDS, report_order
from mlxbench.harness.ceilings import Ceiling
from mlxbench.report import metrics
from mlxbench.report.formatting import AGGREGATES
from mlxbench.report.model import MODES
from mlxbench.store.results import Measurement, ResultSet


@dataclass(frozen=True)
class Query:
    """A report's selection, resolved against a :class:`ResultSet` (build it with :meth:`of`)."""

    machines: list[str]
    """Machine names, grouped by chip configuration."""
    backends: list[str]
    """Backends the tables show, in report column order."""
    releases: list[str]
    """The releases in range, in timeline order."""
    how: str
    """How an op aggregates its variants (a key of :data:`~mlxbench.report.formatting.AGGREGATES`)."""
    metric: str
    """What the average and detailed tables' backend columns show (:data:`~mlxbench.report.metrics.METRICS`)."""
    ops: frozenset[str] | None = None
    """The ops the tables show; None: all."""
    variants: frozenset[tuple[str, str]] | None = None
    """(op, variant) of the preset asked for; None: every variant found (presets measure different sizes)."""
    mode: str | None = None
    dtype: str | None = None

    @classmethod
    def of(
        cls,
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
        dtype: str | None = None,
    ) -> Query:
        """The query, or UsageError naming what is unknown (with what there is) or what is missing."""
        if how not in AGGREGATES:
            raise UsageError(f"unknown aggregation {how!r}; valid: {', '.join(AGGREGATES)}")
        if metric not in metrics.METRICS:
            raise UsageError(f"unknown metric {metric!r}; valid metrics: {', '.join(metrics.METRICS)}")
        if mode is not None and mode not in MODES:
            raise UsageError(f"unknown mode {mode!r}; valid modes: {', '.join(MODES)}")
        picked = _pick_machines(results, machines)
        shown = [b.name for b in selection.backends(backends, order=report_order(list(BACKENDS.values())))]
        releases = _pick_releases(results.releases, release_range)
        if metric == "roofline":
            missing = [m for m in picked if not (ceilings or {}).get(m)]
            if missing:
                raise UsageError(
                    f"no ceilings for {', '.join(missing)}: run `mlxbench calibrate` on that machine first"
                )
        if dtype is not None and dtype not in DTYPES:
            raise UsageError(f"unknown dtype {dtype!r}; valid dtypes: {', '.join(DTYPES)}")
        if preset is not None and preset not in PRESETS:
            raise UsageError(f"unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}")
        variants = (
            None
            if preset is None
            else frozenset((op.name, v.id) for op in CATALOG.values() for v in op.variants(preset))
        )
        return cls(picked, shown, releases, how, metric, None if ops is None else frozenset(ops), variants, mode, dtype)

    def keeps(self, m: Measurement) -> bool:
        """Whether the report reads ``m`` at all: the noise tests use every backend and op kept (the controls)."""
        return (
            m.machine in self.machines
            and m.release in self.releases
            and (self.variants is None or (m.op, m.variant) in self.variants)
            and (self.mode is None or ("pinned" if m.torch else "timeline") == self.mode)
            and (self.dtype is None or m.dtype == self.dtype)
        )

    def shows(self, m: Measurement) -> bool:
        """Whether a kept ``m`` is in the tables: one of the backends and ops asked for."""
        return m.backend in self.backends and (self.ops is None or m.op in self.ops)


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
