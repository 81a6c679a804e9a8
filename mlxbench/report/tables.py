"""The report's entry point: :class:`Report` composes a query, an index and a judge, and builds the tables.

The tables are :mod:`~mlxbench.report.snapshot`'s (average, detailed, dtypes),
:mod:`~mlxbench.report.trends`'s (history, race) and :mod:`~mlxbench.report.counts`'s (counted);
docs/report-architecture.md describes the parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mlxbench.errors import UsageError
from mlxbench.harness.ceilings import Ceiling
from mlxbench.report import counts, snapshot, trends
from mlxbench.report.formatting import Table
from mlxbench.report.index import ResultIndex
from mlxbench.report.judgement import Judge
from mlxbench.report.model import Point, Stack
from mlxbench.report.query import Query
from mlxbench.report.trends import RACES
from mlxbench.store.results import ResultSet

__all__ = ["RACES", "Report"]


class Report:
    """Tables over a :class:`ResultSet`, filtered by machine, backend, release range, preset, mode and dtype.

    ``preset`` keeps only that preset's variants (None: every variant found).
    ``metric`` picks what the backend columns of the average and detailed
    tables show (:mod:`mlxbench.report.metrics`); speedups are a time comparison and
    appear with ``time`` only. History and races are always in milliseconds.
    ``mode`` keeps only pinned or only timeline environments (None: both, as
    separate series). ``stacks`` maps each timeline tag to the pair its commit
    pins (default: the committed catalogs' timeline). Raises UsageError for a
    selection the results cannot answer (:meth:`Query.of`).

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
        dtype: str | None = None,
    ) -> None:
        self.query = Query.of(
            results, machines, backends, release_range, how, metric, ceilings, ops, preset, mode, dtype
        )
        self.index = ResultIndex(results, self.query, stacks, ceilings)
        self.judge = Judge(self.index)

    # -- what the selection holds ------------------------------------------
    @property
    def machines(self) -> list[str]:
        return self.query.machines

    @property
    def how(self) -> str:
        return self.query.how

    @property
    def series(self) -> list[str]:
        return self.index.series

    def representatives(self) -> list[str]:
        return self.index.representatives()

    def label(self, series: str) -> str:
        return self.index.label(series)

    def machine_of(self, series: str) -> str:
        return self.index.machine_of(series)

    def mode(self, series: str) -> str:
        return self.index.mode(series)

    def setting(self, series: str) -> str:
        return self.index.setting(series)

    def stack(self, series: str, release: str) -> str:
        return self.index.stack(series, release)

    def releases_of(self, series: str) -> list[str]:
        return self.index.releases_of(series)

    def backends_of(self, series: str) -> list[str]:
        return self.index.backends_of(series)

    def points(self, series: str, backend: str) -> list[Point]:
        return trends.history_points(self.index, series, backend)

    def race_points(self, series: str, mlx_backend: str, torch_backend: str) -> list[str]:
        return trends.race_points(self.index, series, mlx_backend, torch_backend)

    def races(self, series: str) -> list[tuple[str, str]]:
        return trends.races(self.index, series)

    def half_pairs(self) -> list[tuple[str, str]]:
        return snapshot.half_pairs(self.index)

    # -- tables ----------------------------------------------------------
    def average(self, series: str, release: str) -> Table:
        return snapshot.average(self.index, self.judge, series, release)

    def detailed(self, series: str, release: str) -> Table:
        return snapshot.detailed(self.index, self.judge, series, release)

    def half_precision(self, float16: str, bfloat16: str) -> Table:
        return snapshot.half_precision(self.index, float16, bfloat16)

    def history(self, series: str, backend: str) -> Table:
        return trends.history(self.index, self.judge, series, backend)

    def race(self, series: str, mlx_backend: str, torch_backend: str) -> Table:
        return trends.race(self.index, self.judge, series, mlx_backend, torch_backend)

    def counted_backends(self, series: str) -> list[str]:
        return counts.counted_backends(self.index, series)

    def counted(self, series: str, backend: str) -> Table:
        return counts.history(self.index, series, backend)

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
                elif kind == "counted":
                    out.extend(self.counted(series, b) for b in self.counted_backends(series))
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
