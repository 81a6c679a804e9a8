"""Whether a change or speedup in a table beats the noise, by :mod:`mlxbench.noise`'s rules.

:class:`Judge` owns each pair of commits' changed frameworks and floor (computed once, from an
index's time statistics) and turns a table's numbers into :class:`~mlxbench.report.formatting.Change`.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlxbench import noise
from mlxbench.harness.backends import BACKENDS
from mlxbench.report.formatting import AGGREGATES, Change, change, ratio
from mlxbench.report.index import ResultIndex
from mlxbench.report.model import Key, Value

SAME_RUN_HOURS = 6
"""Two backends' results at one release further apart than this came from separate runs (a history takes 1-2 h)."""


class Judge:
    """The noise verdicts of one :class:`ResultIndex`'s tables."""

    def __init__(self, index: ResultIndex) -> None:
        self.index = index
        self._pairs: dict[tuple[str, str, str], noise.Pair] = {}

    def pair(self, series: str, before: str, after: str) -> noise.Pair:
        """Which frameworks changed between two commits, and the pair's between-run floor (:func:`noise.pair`).

        One control ratio per op and backend, aggregated as the tables aggregate
        ops; else the machine's repeatability or the default.
        """
        key = (series, before, after)
        if key not in self._pairs:
            index = self.index
            self._pairs[key] = noise.pair(
                index.runs_at(series, before),
                index.runs_at(series, after),
                (index.versions(series, before), index.versions(series, after)),
                index.repeatability[series],
                unit=lambda variant: variant[0],
                mean=AGGREGATES[index.query.how],
                counted="op results",
                label=lambda backend: BACKENDS[backend].column,
            )
        return self._pairs[key]

    def judged(
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
        if before[0] == after[0] and self.runs_apart(series, before[0], before[1], after[1]):
            return Change(value, False)
        busy = self.index.busy
        if any(Key(series, release, op, v, backend) in busy for release, backend in (before, after) for v in variants):
            return Change(value, False)
        old, new = (
            {v: self.index.stats(series, release, backend)[(op, v)] for v in variants}
            for release, backend in (before, after)
        )
        return Change(value, noise.judge(old, new, floor, AGGREGATES[self.index.query.how]).changed)

    def runs_apart(self, series: str, release: str, a: str, b: str) -> bool:
        """Whether backends ``a`` and ``b`` were measured at ``release`` in runs more than SAME_RUN_HOURS apart.

        A speedup is judged within one run only: across runs the host moves both sides apart.
        """
        spans = self.index.measured_between(series, release, a), self.index.measured_between(series, release, b)
        if None in spans:
            return False
        (a_first, a_last), (b_first, b_last) = spans  # type: ignore[misc]
        return max(a_first, b_first) - min(a_last, b_last) > SAME_RUN_HOURS * 3_600_000

    def race_change(
        self, series: str, op: str, variants: Sequence[str], before: str, after: str, race: tuple[str, str]
    ) -> Value:
        """The change of the MLX/torch ratio from ``before`` to ``after``, with its noise verdict.

        It beats the noise only where a backend whose framework changed between the
        two commits changed beyond the noise (the history's verdict) in the ratio's
        direction, and the ratio moved more than the pair's floor
        (docs/report-architecture.md).
        """
        index = self.index
        times = {
            backend: (
                index.op_value(series, before, op, variants, backend),
                index.op_value(series, after, op, variants, backend),
            )
            for backend in race
        }
        value = change(ratio(*(times[b][0] for b in race)), ratio(*(times[b][1] for b in race)))
        if not isinstance(value, float):
            return value
        pair = self.pair(series, before, after)
        moved = False
        for backend, direction in zip(race, (1.0, -1.0)):
            if BACKENDS[backend].framework not in pair.changed:
                continue
            own = self.judged(
                change(*times[backend]), series, op, variants, (before, backend), (after, backend), pair.floor
            )
            moved |= isinstance(own, Change) and own.beats_noise and direction * own * value > 0
        return Change(value, moved and abs(value) > pair.floor.fraction * 100.0)
