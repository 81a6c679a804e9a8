"""Quiet samples: each benchmark knows how busy the machine was; a busy one is measured again, or kept and marked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlxbench.harness import asv_suite, load
from mlxbench.history import quiet
from mlxbench.store import loads

ROOT = Path(__file__).resolve().parent.parent
COMMIT = "a" * 40
SERIES = "virtualenv-py3.11-numpy-packaging-torch2.13.0-MLXBENCH_TORCH_THREADS1"


def counters(busy: float, own: float, at: float) -> load.Counters:
    return load.Counters(busy=busy, steal=0.0, own=own, at=at)


def test_others_are_the_machines_busy_time_less_this_process_and_a_quarter_core_is_busy():
    # 1 s in which the machine was busy 1.25 CPU-seconds, 1.0 of them this process: others took 0.25 cores
    load_ = load.between(counters(10.0, 5.0, 100.0), counters(11.25, 6.0, 101.0))
    assert load_.others == pytest.approx(0.25) and load_.busy
    assert not load.between(counters(10.0, 5.0, 100.0), counters(11.05, 6.0, 101.0)).busy  # 0.05 cores: idle
    # a short window: 2 ticks of others in 50 ms read 0.4 cores, but below what the 10 ms ticks can tell
    assert load.between(counters(0.0, 0.0, 0.0), counters(0.07, 0.05, 0.05)).judged  # a whole core would show
    short = load.between(counters(0.0, 0.0, 0.0), counters(0.04, 0.02, 0.02))  # 1 core for 20 ms: 2 ticks
    assert not short.busy and not short.judged  # recorded as such: too short to tell, not quiet
    assert load_.judged
    assert load.between(counters(0.0, 0.0, 0.0), counters(0.0, 0.0, 1.0)).others == 0.0


@pytest.mark.parametrize("neighbour", [0.0, 1.0])
def test_a_benchmark_process_records_how_busy_the_machine_was_while_it_sampled(
    benchmarks, monkeypatch, tmp_path, neighbour
):
    """A planted load reading: the machine's busy time grows by this process's own plus ``neighbour`` cores."""
    import time

    start = time.monotonic()

    def planted() -> load.Counters:
        own = time.process_time()
        elapsed = time.monotonic() - start
        return load.Counters(busy=own + neighbour * elapsed, steal=0.0, own=own, at=time.monotonic())

    monkeypatch.setattr(load, "read", planted)
    monkeypatch.setattr(asv_suite, "samples_needed", lambda pilot: asv_suite.MAX_SAMPLES)  # sample until the cap
    monkeypatch.setenv(load.LOAD_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("ASV_COMMIT", COMMIT)
    monkeypatch.setenv("ASV_ENV_NAME", SERIES)
    bench = benchmarks["ops.Softmax.time_mlx_cpu"]
    bench.set_param_idx(0)
    assert not bench.do_setup()
    bench.run(*bench._current_params)
    bench.do_teardown()
    (record,) = load.collect(tmp_path)
    assert (record.benchmark, record.commit, record.env) == ("ops.Softmax.time_mlx_cpu", COMMIT, SERIES)
    assert record.variant == bench._current_params[0]
    assert 0.1 < record.seconds <= 0.25  # the samples (0.2 s of them, the cap), not one of them, not the preparing
    assert record.busy is (neighbour > 0) and record.others == pytest.approx(neighbour, abs=0.01)


def write(directory: Path, benchmark: str, variant: str, busy: bool, commit: str = COMMIT) -> None:
    """What a benchmark process leaves in the driver's load directory."""
    doc = {"benchmark": benchmark, "variant": variant, "commit": commit, "env": SERIES}
    doc |= {"others": 1.0 if busy else 0.01, "steal": 0.0, "seconds": 0.2, "busy": busy}
    (directory / f"{benchmark}-{variant}-{len(list(directory.iterdir()))}.json").write_text(json.dumps(doc))


COMMAND = ["asv", "run", "HASHFILE:/tmp/h", "-b", "^ops\\.(ReLU|Sum)\\.(time)_(mlx_cpu)", "--skip-existing-successful"]
COMMAND += ["--interleave-rounds", "-a", "rounds=2"]


def test_narrowed_measures_one_commits_benchmarks_again_and_skips_nothing():
    out = quiet.narrowed(COMMAND, COMMIT, ["ops.Sum.time_mlx_cpu", "ops.ReLU.time_mlx_cpu"])
    busy = r"^(ops\.ReLU\.time_mlx_cpu|ops\.Sum\.time_mlx_cpu)(?:\(|$)"
    assert out == ["asv", "run", f"{COMMIT}^!", "-b", f"(?={COMMAND[4]}){busy}", "-a", "rounds=2"]


def test_narrowed_keeps_out_what_the_run_left_out():
    """A variant that failed verification was not timed: measuring its benchmark again must not time it either."""
    import re

    from mlxbench.catalog import CATALOG
    from mlxbench.harness import benchmark_names
    from mlxbench.harness.backends import BACKENDS

    selected = benchmark_names.selection_regex(
        [CATALOG["ReLU"]], [BACKENDS["mlx_cpu"]], kinds=("time",), skip={("ReLU", "mlx_cpu", "float16")}
    )
    (regex,) = [
        a
        for i, a in enumerate(quiet.narrowed(["asv", "run", "-b", selected], COMMIT, ["ops.ReLU.time_mlx_cpu"]))
        if i == 3
    ]
    assert re.search(regex, "ops.ReLU.time_mlx_cpu('4x3x8')")
    assert re.search(regex, "ops.ReLU.time_mlx_cpu('4x3x8-bfloat16')")
    assert not re.search(regex, "ops.ReLU.time_mlx_cpu('4x3x8-float16')")
    assert not re.search(regex, "ops.Sum.time_mlx_cpu('3x4x5x6-axis0')")


@pytest.mark.parametrize("clears", [True, False])
def test_a_busy_benchmark_is_measured_again_once_quiet_and_marked_when_it_never_clears(tmp_path, clears, capsys):
    calls: list[list[str]] = []
    waits: list[float] = []

    def call(command: list[str], cwd: Path, env: dict[str, str]) -> int:
        calls.append(command)
        directory = Path(env[load.LOAD_DIR_ENV])
        first = len(calls) == 1
        if first:  # both rounds of ReLU's two variants, one of them busy in round 2; Sum quiet throughout
            for busy in (False, True):
                write(directory, "ops.ReLU.time_mlx_cpu", "a", busy)
            for _ in range(2):
                write(directory, "ops.ReLU.time_mlx_cpu", "b", False)
                write(directory, "ops.Sum.time_mlx_cpu", "a", False)
        else:  # the re-measurement: ReLU only
            write(directory, "ops.ReLU.time_mlx_cpu", "a", not clears)
            write(directory, "ops.ReLU.time_mlx_cpu", "b", False)
        return 0

    def wait(seconds: float) -> tuple[bool, float, load.Load | None]:
        waits.append(seconds)
        return clears, seconds if not clears else 3.0, load.Load(0.0 if clears else 1.0, 0.0, 0.5)

    machine_dir = tmp_path / "machine"
    assert quiet.run(quiet.AsvRun(COMMAND, call, tmp_path, {}), machine_dir, wait=wait) == 0
    again = quiet.narrowed(COMMAND, COMMIT, ["ops.ReLU.time_mlx_cpu"])
    assert calls == [COMMAND] + [again] * (1 if clears else quiet.RETRIES)
    assert waits == [5.0] * len(calls[1:])  # conftest: MLXBENCH_QUIET_WAIT=5
    stored = {(d["benchmark"], d["variant"]): d for d in map(json.loads, (machine_dir / loads.LOAD_FILE).open())}
    assert set(stored) == {
        ("ops.ReLU.time_mlx_cpu", "a"),
        ("ops.ReLU.time_mlx_cpu", "b"),
        ("ops.Sum.time_mlx_cpu", "a"),
    }
    assert stored[("ops.ReLU.time_mlx_cpu", "a")]["busy"] is (not clears)
    assert all(d["judged"] for d in stored.values())
    assert stored[("ops.Sum.time_mlx_cpu", "a")]["rounds"] == 2 and not stored[("ops.Sum.time_mlx_cpu", "a")]["busy"]
    err = capsys.readouterr().err
    assert "1 benchmark(s) at 1 commit(s) sampled while other processes used the machine" in err
    assert ("kept and marked" in err) is (not clears)


def test_the_load_file_keeps_earlier_results_and_survives_a_bad_line(tmp_path):
    path = tmp_path / loads.LOAD_FILE
    path.write_text('{"commit": "c", "env": "e", "benchmark": "ops.Sum.time_mlx_cpu", "variant": "v", "busy": true}\n{')
    quiet.store(tmp_path, {("c2", "e", "ops.Sum.time_mlx_cpu", "v"): quiet.Reading(0.0, 0.0, 0.2, 2, False)})
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(d["commit"], d["busy"]) for d in lines] == [("c", True), ("c2", False)]


def test_an_interrupted_run_leaves_the_files_that_were_there_as_they_were(tmp_path):
    """Ctrl-C or SIGTERM mid-run: ASV's rewrite of a committed file is undone, a new commit's file is kept."""
    machine_dir = tmp_path / "machine"
    machine_dir.mkdir()
    kept = machine_dir / "aaaaaaaa-env.json"
    kept.write_text('{"results": {"committed": 1}}')

    def interrupted(command, cwd=None, env=None) -> int:
        kept.write_text('{"results": {"rewritten": 2}}')  # what ASV saved for a commit before the interrupt
        (machine_dir / "bbbbbbbb-env.json").write_text('{"results": {"new": 3}}')
        raise KeyboardInterrupt

    asv = quiet.AsvRun(["asv", "run"], interrupted, tmp_path, {})
    with pytest.raises(KeyboardInterrupt):
        quiet.run(asv, machine_dir, wait=lambda seconds: (True, 0.0, None))
    assert kept.read_text() == '{"results": {"committed": 1}}'
    assert (machine_dir / "bbbbbbbb-env.json").read_text() == '{"results": {"new": 3}}'


def test_an_interrupted_counted_run_keeps_the_commits_it_finished_and_mends_a_cut_off_file(tmp_path, capsys):
    """Counts need no load check: ASV's rewrite of a finished commit stays; a file cut off mid-write is written back."""
    machine_dir = tmp_path / "machine"
    machine_dir.mkdir()
    finished, cut_off = machine_dir / "aaaaaaaa-env.json", machine_dir / "cccccccc-env.json"
    finished.write_text('{"results": {"time": 1}}')
    cut_off.write_text('{"results": {"time": 2}}')

    def interrupted(command, cwd=None, env=None) -> int:
        finished.write_text('{"results": {"time": 1, "instructions": 5}}')
        (machine_dir / "bbbbbbbb-env.json").write_text('{"results": {"instructions": 3}}')
        cut_off.write_text('{"results": {"ti')
        raise KeyboardInterrupt

    asv = quiet.AsvRun(["asv", "run"], interrupted, tmp_path, {}, counted=True)
    with pytest.raises(KeyboardInterrupt):
        quiet.run(asv, machine_dir, wait=lambda seconds: (True, 0.0, None))
    assert finished.read_text() == '{"results": {"time": 1, "instructions": 5}}'
    assert (machine_dir / "bbbbbbbb-env.json").read_text() == '{"results": {"instructions": 3}}'
    assert cut_off.read_text() == '{"results": {"time": 2}}'
    assert "the counts of the 2 commit(s) it had finished are kept" in capsys.readouterr().err
