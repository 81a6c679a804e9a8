"""Adaptive sampling: the stopping rule, and that ASV's own loop follows it (never timing numbers)."""

from __future__ import annotations

import statistics

from mlxbench.harness import asv_suite
from mlxbench.harness.asv_suite import MAX_SAMPLES, MIN_SAMPLES, SAMPLING_SECONDS, samples_needed
from mlxbench.harness.backends import Prepared

ROOT = asv_suite.__file__.rsplit("/mlxbench/", 1)[0]


def _spread(width: float, n: int = 21) -> list[float]:
    """A pilot of ``n`` times evenly spread over ``1 +- width / 2``."""
    return [1.0 - width / 2 + width * i / (n - 1) for i in range(n)]


def test_noisier_pilots_ask_for_more_samples_within_the_bounds():
    needed = [samples_needed(_spread(w)) for w in (0.0, 0.01, 0.04, 0.1, 0.4, 4.0)]
    assert needed == sorted(needed)
    assert needed[0] == needed[1] == MIN_SAMPLES  # a settled median needs no more than the minimum
    assert MIN_SAMPLES < needed[3] < MAX_SAMPLES
    assert needed[-1] == MAX_SAMPLES


def test_needed_samples_are_the_fewest_that_reach_the_target():
    """With the pilot's spread, n samples give an interval z * IQR / sqrt(n) within +-1%; n - 1 would not."""
    pilot = _spread(0.1)
    q1, median, q3 = statistics.quantiles(pilot, n=4)
    n = samples_needed(pilot)

    def half_width(samples: int) -> float:
        return asv_suite.Z_99 * (q3 - q1) / samples**0.5 / median

    assert half_width(n) <= asv_suite.CI_HALF_WIDTH < half_width(n - 1)


def test_setup_hands_asv_the_plan_and_asv_samples_by_it(benchmarks, monkeypatch):
    bench = benchmarks["ops.ReLU.time_torch_cpu"]
    bench.set_param_idx(0)
    assert not bench.do_setup()
    at_least, at_most, seconds = bench.repeat
    assert (at_least, seconds) == (MIN_SAMPLES, SAMPLING_SECONDS) and MIN_SAMPLES <= at_most <= MAX_SAMPLES
    samples = bench.run(*bench._current_params)["samples"]
    assert MIN_SAMPLES <= len(samples) <= at_most
    runs: list[Prepared] = []
    original = Prepared.run
    monkeypatch.setattr(Prepared, "run", lambda self: (runs.append(self), original(self))[1])
    bench.do_setup()  # ASV re-runs setup before every sample: the pilot must not run again
    assert runs == [] and bench.repeat == (at_least, at_most, seconds)
    bench.do_teardown()


def test_asv_attribute_overrides_still_win(benchmarks):
    """`asv run --quick` (repeat=1) and `-a repeat=...` override what setup planned, as ASV documents."""
    from asv_runner.discovery import get_benchmark_from_name

    bench = get_benchmark_from_name(f"{ROOT}/benchmarks", "ops.ReLU.time_torch_cpu-0", extra_params={"repeat": 1})
    assert not bench.do_setup()
    assert bench.repeat == 1
    assert len(bench.run(*bench._current_params)["samples"]) == 1
    bench.do_teardown()


def test_the_pilot_reuses_the_warm_up_and_adds_no_call_where_it_already_knows_enough():
    calls: list[int] = []
    prepared = Prepared(lambda: calls.append(1), (), lambda out: None, lambda out: out)
    prepared.warm_up_times = [0.5] + [0.01] * 9  # a compile, then 10 ms calls: 5 steady ones cost 50 ms already
    at_least, at_most, seconds = asv_suite.sampling_plan(prepared)
    assert calls == [] and (at_least, seconds) == (MIN_SAMPLES, SAMPLING_SECONDS)
    assert at_most == samples_needed([0.01] * 5) == MIN_SAMPLES  # identical calls: the minimum is enough
    prepared.warm_up_times = [0.1, 0.1]  # slow calls: no estimate to make, the time cap decides
    assert asv_suite.sampling_plan(prepared) == (MIN_SAMPLES, MAX_SAMPLES, SAMPLING_SECONDS) and calls == []
    prepared.warm_up_times = [1e-6] * 10  # fast calls: the pilot tops up to PILOT_CALLS
    asv_suite.sampling_plan(prepared)
    assert len(calls) == asv_suite.PILOT_CALLS - 5
