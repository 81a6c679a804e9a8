"""The noise rules (mlxbench.noise) against asv's own statistics.

The report tests (test_report.py) plant changes in a recorded run; these pin
the rules themselves: the same test `asv compare` applies, the direction
requirement, and where a pair's noise floor comes from.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from asv import _stats

from mlxbench import noise, verdicts
from mlxbench.noise import Floor, Stats
from mlxbench.report.model import Stack
from mlxbench.report.tables import Report
from mlxbench.store import repeatability, results


def test_the_fast_mann_whitney_is_asvs_to_the_last_digit():
    rng = random.Random(0)
    for m, n in [(21, 3), (30, 25), (200, 300), (50, 400), (20, 20), (12, 20), (20, 7), (5, 5)]:
        for shift in (0.0, 0.01, 0.05):
            # rounded: many ties, which asv breaks conservatively
            x = [round(rng.gauss(1.0, 0.1), 2) for _ in range(m)]
            y = [round(rng.gauss(1.0 + shift, 0.1), 2) for _ in range(n)]
            assert noise._mann_whitney_p(np.array(x), np.array(y)) == pytest.approx(
                _stats.mann_whitney_u(x, y)[1], rel=1e-12, abs=1e-300
            )


def test_asvs_exact_distribution_is_counted_once_per_sample_sizes(monkeypatch):
    # asv's memo of the orderings empties itself past 100,000 entries, which 20-sample results reach:
    # judged with it, a history counted them again at every pair (minutes of `mlxbench report`)
    rng = random.Random(2)
    pairs = [
        (
            Stats(1.0, samples=[rng.gauss(1.0, 0.05) for _ in range(20)]),
            Stats(1.0, samples=[rng.gauss(1.0 + 0.002 * i, 0.05) for _ in range(20)]),
        )
        for i in range(60)
    ]
    first = [noise.is_different(a, b) for a, b in pairs]
    counted = []
    orderings = _stats.mann_whitney_u_r

    def counting(*args):
        counted.append(args[:3])
        return orderings(*args)

    monkeypatch.setattr(_stats, "mann_whitney_u_r", counting)
    assert [noise.is_different(a, b) for a, b in pairs] == first
    assert not counted, "the same sizes' orderings were counted again"


def test_is_different_is_asvs_test():
    rng = random.Random(1)
    for shift in (0.0, 0.02, 0.2):
        for size in (5, 15, 60):  # too few to test (CI fallback), asv's exact test, the normal approximation
            a = [rng.gauss(1.0, 0.05) for _ in range(size)]
            b = [rng.gauss(1.0 + shift, 0.05) for _ in range(size)]
            ci_a, ci_b = (min(a), max(a)), (min(b), max(b))
            expected = _stats.is_different(a, b, _ci(ci_a), _ci(ci_b))
            assert noise.is_different(Stats(1.0, ci_a, a), Stats(1.0, ci_b, b)) is expected


def _ci(ci: tuple[float, float]) -> dict[str, float]:
    return {"ci_99_a": ci[0], "ci_99_b": ci[1]}


def test_without_statistics_asvs_test_has_no_say():
    assert noise.is_different(Stats(1.0), Stats(2.0)) is None  # nothing recorded
    assert noise.is_different(Stats(1.0, (0.9, 1.1), repeat=1), Stats(2.0, (1.9, 2.1))) is None  # one sample
    assert noise.is_different(Stats(1.0, (0.9, 1.1)), Stats(2.0, (1.9, 2.1))) is True
    assert noise.is_different(Stats(1.0, (0.9, 1.5)), Stats(1.4, (1.3, 1.6))) is False  # CIs overlap


def test_most_variants_must_differ_in_the_changes_direction():
    before = {"a": Stats(1.0, (0.99, 1.01)), "b": Stats(1.0, (0.99, 1.01)), "c": Stats(1.0, (0.99, 1.01))}
    two_slower = {"a": Stats(2.0, (1.99, 2.01)), "b": Stats(2.0, (1.99, 2.01)), "c": Stats(0.9, (0.89, 0.91))}
    verdict = noise.judge(before, two_slower, noise.WITHIN_RUN)
    assert verdict.changed and verdict.change > 0
    one_slower = {"a": Stats(4.0, (3.99, 4.01)), "b": Stats(0.9, (0.89, 0.91)), "c": Stats(0.9, (0.89, 0.91))}
    verdict = noise.judge(before, one_slower, noise.WITHIN_RUN)  # the mean is slower, but only one variant is
    assert verdict.change > 0 and not verdict.changed and "1 of 3" in verdict.why


def test_a_change_must_exceed_the_floor():
    before = {"a": Stats(1.0, (0.99, 1.01))}
    after = {"a": Stats(1.15, (1.14, 1.16))}
    assert noise.judge(before, after, Floor(0.10, "test")).changed
    verdict = noise.judge(before, after, Floor(0.20, "test"))
    assert not verdict.changed and "inside the noise floor 20% (test)" in verdict.why
    no_stats = {"a": Stats(1.0)}, {"a": Stats(1.15)}  # as asv compare: without statistics only the factor decides
    assert noise.judge(*no_stats, Floor(0.10, "test")).changed


def test_the_floor_is_the_90th_percentile_of_the_controls_drift():
    ratios = [1.0 + i / 100 for i in range(11)]  # |ratio - 1| = 0, 0.01, ..., 0.10
    floor = noise.floor_from_controls(ratios, "11 op results of cpu", noise.DEFAULT_FLOOR)
    assert floor.fraction == pytest.approx(0.09)
    assert floor.source == "90th percentile of |ratio - 1| over 11 op results of cpu"
    assert noise.floor_from_controls([0.9, 1.1], "2 op results", noise.DEFAULT_FLOOR) is noise.DEFAULT_FLOOR
    assert "default" in str(noise.DEFAULT_FLOOR) and str(noise.DEFAULT_FLOOR).startswith("10%")


def test_repeatability_file(tmp_path):
    assert repeatability.read(tmp_path) is None
    (tmp_path / repeatability.REPEATABILITY_FILE).write_text(
        json.dumps({"within_10pct": 0.79, "p90_abs_change": 0.14, "runs": [{}, {}]})
    )
    floor = repeatability.read(tmp_path)
    assert floor is not None and floor.fraction == 0.14 and "2 runs" in floor.source and "79%" in floor.source
    (tmp_path / repeatability.REPEATABILITY_FILE).write_text(json.dumps({"p90_abs_change": "lots"}))
    with pytest.raises(ValueError, match="not a repeatability file"):
        repeatability.read(tmp_path)


def test_repeatability_is_json_lines_the_newest_counts_and_the_old_name_is_still_read(tmp_path):
    assert not repeatability.REPEATABILITY_FILE.endswith(".json")  # ASV reads every *.json in a folder as results
    (tmp_path / repeatability.LEGACY_REPEATABILITY_FILE).write_text(
        json.dumps({"within_10pct": 0.5, "p90_abs_change": 0.2}, indent=1)  # as written before: one document
    )
    assert repeatability.read(tmp_path).fraction == 0.2
    lines = [{"within_10pct": 0.79, "p90_abs_change": f} for f in (0.14, 0.08)]
    (tmp_path / repeatability.REPEATABILITY_FILE).write_text("".join(json.dumps(d) + "\n" for d in lines))
    floor = repeatability.read(tmp_path)
    assert floor.fraction == 0.08 and repeatability.REPEATABILITY_FILE in floor.source


def test_which_frameworks_changed():
    assert noise.changed_frameworks({"mlx": "0.31.1", "torch": "2.13.0"}, {"mlx": "0.32.4", "torch": "2.13.0"}) == {
        "mlx"
    }
    assert noise.changed_frameworks({"mlx": "0.31.1", "torch": None}, {"mlx": "0.31.1", "torch": None}) == {"torch"}


def test_one_sample_within_a_run_is_not_judged():
    """A --quick trial has one sample per benchmark and no interval: a speedup there cannot beat the noise."""
    before = {"a": noise.Stats(1.0), "b": noise.Stats(1.0)}
    after = {"a": noise.Stats(2.0), "b": noise.Stats(2.0)}
    verdict = noise.judge(before, after, noise.WITHIN_RUN)
    assert not verdict.changed and "not judged" in verdict.why
    assert noise.judge(before, after, noise.Floor(0.05, "test")).changed  # a floor of its own still judges


def _timing(median: float, seed: int) -> Stats:
    """A timing with 40 samples scattered +-1% around ``median`` (seconds)."""
    rng = random.Random(seed)
    samples = sorted(median * (1 + rng.uniform(-0.01, 0.01)) for _ in range(40))
    return Stats(median, (samples[1], samples[-2]), samples, 40)


def _one_pair(
    points: dict[str, tuple[str, str]], pin: str | None, ratios: dict[str, list[float]]
) -> tuple[Report, dict, dict, tuple[dict, dict]]:
    """The same timings as the report reads them and as compare does: one variant per op, ``ratios`` per backend.

    Returns the report, compare's two sides and their versions.
    """
    (before, _), (after, _) = points.items()
    stats = {}
    for release in points:
        for backend, rs in ratios.items():
            for i, r in enumerate(rs):
                median = 1e-3 * (r if release == after else 1.0)
                stats[(release, f"Op{i}", backend)] = _timing(median, seed=len(stats))
    loaded = results.ResultSet(
        [
            results.Measurement(
                "m",
                release,
                op,
                "v",
                backend,
                s.median,
                ci_99=s.ci_99,
                samples=s.samples,
                repeat=s.repeat,
                torch=pin,
                env="env",
            )
            for (release, op, backend), s in stats.items()
        ],
        {"m": {"machine": "m"}},
        list(points),
    )
    report = Report(loaded, stacks={release: Stack(*pins) for release, pins in points.items()})
    sides = [{(f"ops.{op}.time_{b}", "v"): s for (r, op, b), s in stats.items() if r == at} for at in (before, after)]
    versions = tuple(noise.point_versions({"mlx": m, "torch": t}, pin) for m, t in points.values())
    return report, sides[0], sides[1], versions


@pytest.mark.parametrize(
    ("points", "pin", "judged", "control"),
    [
        ({"v0.31.1": ("0.31.1", "2.12.0"), "v0.32.4": ("0.32.4", "2.12.1")}, "2.13.0", "mlx_cpu", "torch_cpu"),
        ({"torch-v2.12.0": ("0.31.2", "2.12.0"), "torch-v2.12.1": ("0.31.2", "2.12.1")}, None, "torch_cpu", "mlx_cpu"),
        ({"v0.31.2": ("0.31.2", "2.12.0"), "v0.32.0": ("0.32.0", "2.12.1")}, None, "mlx_cpu", "torch_cpu"),
    ],
    ids=["pinned: only MLX changed", "timeline: only torch changed", "timeline: both changed, no controls"],
)
def test_the_report_and_compare_call_the_same_pair_the_same_way(points, pin, judged, control):
    """One variant per op, so the report's per-op ratios and compare's per-variant ones are the same numbers."""
    ratios = {judged: [1.30, 1.05, 0.60, 1.0, 1.02, 0.98], control: [1.1, 0.9, 1.1, 0.9, 1.1, 0.9]}
    report, before, after, versions = _one_pair(points, pin, ratios)
    pair = report.judge.pair("m", *points)
    history = report.history("m", judged)
    step = next(i for i, column in enumerate(history.columns) if column.name.endswith(" change"))
    reported = {row[0]: row[step].beats_noise for row in history.rows}
    floor = verdicts.noise_floor(before, after, versions, None)
    rows = verdicts.compare_points(before, after, floor)
    compared = {r.key[0].split(".")[1]: r.changed for r in rows if r.key[0].endswith(f"time_{judged}")}
    assert floor.fraction == pytest.approx(pair.floor.fraction, rel=1e-12)
    assert floor.source.split(" over ")[0] == pair.floor.source.split(" over ")[0]  # the same rule set both
    assert compared == reported and True in reported.values() and False in reported.values()


def test_where_nothing_changed_both_take_every_backend_as_a_control():
    """`mlxbench compare vA vA`, or two commits that pin the same pair: all drift is the machine's."""
    points = {"v0.32.4": ("0.32.4", "2.12.1"), "a1b2c3d": ("0.32.4", "2.12.1")}
    ratios = {"mlx_cpu": [1.2, 0.9, 1.05], "torch_cpu": [1.1, 0.95, 1.0]}
    report, before, after, versions = _one_pair(points, "2.13.0", ratios)
    pair = report.judge.pair("m", *points)
    floor = verdicts.noise_floor(before, after, versions, Floor(0.3, "measured"))
    assert pair.changed == frozenset() and noise.changed_frameworks(*versions) == set()
    assert floor.fraction == pytest.approx(pair.floor.fraction, rel=1e-12) and floor.fraction < 0.3
