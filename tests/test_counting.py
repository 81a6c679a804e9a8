"""Counted instructions: the body is the time benchmark's, the counts are callgrind's, and no valgrind is n/a.

The tests that run valgrind itself are skipped where it is missing (CI installs it: .ci/run).
"""

from __future__ import annotations

import ctypes
import functools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlxbench.catalog import CATALOG
from mlxbench.errors import UsageError
from mlxbench.harness import asv_suite, benchmark_names, counting
from mlxbench.harness.asv_suite import benchmark_class
from mlxbench.harness.backends import BACKENDS, FIXED_WARMUP_ENV
from mlxbench.history import asv_launch, asv_patches, asv_run

ROOT = Path(__file__).resolve().parent.parent
needs_valgrind = pytest.mark.skipif(counting.tools_missing() is not None, reason=counting.INSTALL_LINE)

DUMP = """# callgrind format
version: 1
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
summary: 0

ob=/work/.venv/lib/python3.11/site-packages/torch/lib/libtorch_cpu.so
fn=at::native::relu
0 1000 200 100 4 30 20 3 25 15
cob=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0
cfn=malloc
calls=1 0
0 77 10 10 1 2 2 1 2 2
0 5 1 1
ob=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0
fn=malloc
0 77 10 10 1 2 2 1 2 2
ob=/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0
fn=_PyObject_Free
0 40 8 4 1 1 0 1 1 0
fn=_PyEval_EvalFrameDefault
0 300 90 40 2 5 1 2 5 1
totals: 1422 309 155 8 38 23 7 33 18
"""


def test_a_dump_becomes_the_functions_own_counts_without_the_allocators_and_the_cycle_estimate():
    """Own costs of torch's and Python's functions; the inclusive cost of a call and both allocators' own left out."""
    counts = counting.read_counts(DUMP)
    assert counts == counting.Counts(1000 + 5 + 300, (4 + 30 + 20) + (2 + 5 + 1), (3 + 25 + 15) + (2 + 5 + 1))
    assert counts.cycles == counts.instructions + 10 * counts.l1_misses + 100 * counts.ll_misses
    assert counting.Counts.from_line(counts.as_line()) == counts
    everything = counting.Counts.from_totals(
        dict(zip(["Ir", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw"], [1422, 8, 38, 23, 7, 33, 18]))
    )
    assert counts.instructions == everything.instructions - 77 - 40, "the totals less the allocators' own"
    with pytest.raises(ValueError, match="not a callgrind dump"):
        counting.read_counts("fn=f\n0 10\n")


def test_a_dump_read_from_its_totals_leaves_out_every_allocator_section_wherever_it_stands():
    """Allocator objects and Python's allocator functions in several places; a longer name is not theirs."""
    dump = """events: Ir I1mr
summary: 0

ob=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0
fn=mi_malloc
0 10 1
ob=/x/libpython3.11.so.1.0
fn=_PyObject_Free
0 4 1
fn=_PyObject_Freelist
0 7 0
fn=f
0 100 2
cob=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0
cfn=mi_malloc
calls=1 0
0 10 1
ob=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2.0
fn=mi_free
0 6 0
ob=/x/libpython3.11.so.1.0
fn=_PyObject_Free
0 5 0
totals: 132 4
"""
    counts = counting.read_counts(dump)
    assert (counts.instructions, counts.l1_misses) == (132 - 10 - 4 - 6 - 5, 4 - 1 - 1)


class FakeCallgrind:
    """Records the client requests and the op's calls in order; a region counts ``per_call`` per op it ran."""

    def __init__(self, log: list[str], per_call: int = counting.REPEAT_BELOW["torch"]) -> None:
        self.log = log
        self.per_call = per_call

    def start(self) -> None:
        self.log.append("start")

    def stop(self) -> None:
        self.log.append("stop")

    def dump(self, label: str) -> counting.Counts:
        region = self.log[len(self.log) - self.log[::-1].index("start") :]
        self.log.append(f"dump {label}")
        return counting.Counts(self.per_call * region.count("op") + 7, 2 + region.count("op"), 1)


@pytest.fixture
def counted_here(monkeypatch, tmp_path):
    """This process as if valgrind ran it: a fake callgrind, the counts' directory in ``tmp_path``."""
    log: list[str] = []
    monkeypatch.setenv(counting.OUT_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(counting, "_callgrind", [FakeCallgrind(log)])
    monkeypatch.setattr(counting, "settle_allocator", lambda: log.append("settle allocator"))
    monkeypatch.setattr(sys, "_clear_type_cache", lambda: log.append("clear method cache"))
    monkeypatch.setattr(counting, "under_valgrind", lambda: None)
    monkeypatch.setattr(asv_suite, "_prepared", {})
    return log


@pytest.mark.parametrize("backend", ["mlx_cpu", "torch_cpu"])
def test_the_counted_body_is_the_time_benchmarks_body_between_start_and_stop(backend, counted_here, monkeypatch):
    """Allocator settled, method cache emptied, then instrumentation around one call of ``Prepared.timed`` alone."""
    op = CATALOG["ReLU"]
    variant = op.variants("tiny")[0].id
    cls = benchmark_class(op, "tiny", __name__)
    time_method = getattr(cls, f"time_{backend}")
    time_method.setup(variant)
    time_body = asv_suite._prepared[("ReLU", variant, backend)].timed
    prepared_bodies: list[object] = []
    real_prepare = asv_suite.prepare

    def spy_prepare(*args, **kwargs):
        prepared = real_prepare(*args, **kwargs)
        inner = prepared.timed
        prepared_bodies.append(inner)
        prepared.timed = lambda: (counted_here.append("op"), inner())[1]
        return prepared

    monkeypatch.setattr(asv_suite, "prepare", spy_prepare)
    method = getattr(cls, f"{benchmark_names.INSTRUCTIONS}_{backend}")
    counted_here.clear()
    method.setup(variant)
    value = method(cls(), variant)
    expected = ["settle allocator", "clear method cache", "start", "op", "stop", f"dump ReLU.{variant}.{backend}"]
    assert counted_here == expected
    assert value == counting.REPEAT_BELOW["torch"] + 7, "a call that large is counted once (under mlx's target too)"
    # the body the time benchmark times (timed_body: a partial for torch on the CPU, the closure elsewhere)
    (counted_body,) = prepared_bodies
    assert type(counted_body) is type(time_body)
    assert getattr(counted_body, "__qualname__", None) == getattr(time_body, "__qualname__", None)
    # the other counted kinds of that variant read the same call's counts: the op does not run again
    counted_here.clear()
    for kind in (benchmark_names.LL_MISSES, benchmark_names.CYCLES):
        other = getattr(cls, f"{kind}_{backend}")
        other.setup(variant)
        assert other(cls(), variant) == {benchmark_names.LL_MISSES: 1, benchmark_names.CYCLES: value + 30 + 100}[kind]
    assert counted_here == []


def test_a_small_call_is_counted_again_over_many_calls_and_keeps_the_first_calls_misses(monkeypatch):
    """Under the target: a second region of ceil(target / count) calls gives the instructions per call."""
    log: list[str] = []
    monkeypatch.setattr(counting, "settle_allocator", lambda: log.append("settle allocator"))
    target = counting.REPEAT_BELOW["mlx"]
    per_call = target // 8 - 1
    counts = counting.count(FakeCallgrind(log, per_call), lambda: log.append("op"), "x", target)
    calls = math.ceil(target / (per_call + 7))
    assert calls == 8
    assert log == ["settle allocator", "start", "op", "stop", "dump x", "settle allocator", "start"] + [
        "op"
    ] * calls + [
        "stop",
        "dump x",
    ]
    assert counts == counting.Counts(round((per_call * calls + 7) / calls), 3, 1), "misses: the first, cold call's"
    log.clear()
    tiny = counting.count(FakeCallgrind(log, 10), lambda: log.append("op"), "x", target)
    assert log.count("op") == 1 + counting.MAX_CALLS and tiny.instructions == 10


def test_a_variant_is_counted_once_by_whichever_process_claims_it_and_its_failures_reach_every_reader(counted_here):
    counts = counting.counted("A", lambda: lambda: None, 20_000_000)
    assert counts == counting.Counts(0, 2, 1), "an empty body: the region's own 7 instructions over 1,000 calls"
    assert counting.outcome("A") == counts, "stored for the others"
    assert counting.counted("A", lambda: pytest.fail("stored counts are not counted again"), 1) == counts
    assert counting.claim("B") and not counting.claim("B"), "a second process does not get a claimed variant"
    assert counting.counted("B", lambda: pytest.fail("claimed elsewhere"), 1) is None
    assert counting.outcome("B") is None, "nothing stored until the claiming process has counted it"

    def unsupported():
        raise NotImplementedError("no float16 ReLU in mlx 0.2.0")

    def broken():
        raise ValueError("shapes do not match")

    with pytest.raises(NotImplementedError):
        counting.counted("C", unsupported, 1)
    with pytest.raises(NotImplementedError, match="no float16 ReLU"):
        counting.outcome("C")  # ASV's n/a in the reader too
    with pytest.raises(ValueError):
        counting.counted("D", broken, 1)
    with pytest.raises(counting.CountFailed, match="ValueError: shapes do not match"):
        counting.outcome("D")
    assert not list(Path(os.environ[counting.OUT_DIR_ENV]).glob(".*")), "no file left half-written"


def test_torch_counts_in_a_worker_of_its_own_and_mlx_in_two_from_both_ends():
    mlx = [("ReLU", v, b) for v in ("a", "b", "c") for b in ("mlx_cpu", "mlx_cpu_compile")]
    torch = [("ReLU", v, "torch_cpu") for v in ("a", "b", "c")]
    items = [*mlx[:2], *torch, *mlx[2:]]
    assert asv_launch.worker_lists(items, 2) == [torch, mlx, mlx[::-1]]
    assert asv_launch.worker_lists(items, 16) == [torch, mlx, mlx[::-1]]
    assert asv_launch.worker_lists(items, 1) == [torch, mlx]
    assert asv_launch.worker_lists(mlx[:1], 2) == [mlx[:1]]
    assert asv_launch.worker_lists(torch, 2) == [torch]


def test_every_worker_runs_with_the_same_hash_seed_allocator_and_fixed_warm_up(tmp_path):
    class Env:
        env_vars = {"ASV_ENV": "x"}

        def __init__(self) -> None:
            self.runs: list[dict] = []

        def run(self, args, return_popen, redirect_stderr, env):
            self.runs.append({"args": args, "env": env})
            return object()

    items = [("ReLU", "a", "torch_cpu"), ("ReLU", "a", "mlx_cpu"), ("ReLU", "b", "mlx_cpu")]
    launched = Env()
    workers = asv_launch.CountingWorkers.start(launched, tmp_path, items)
    assert len(workers.procs) == len(launched.runs) == len(asv_launch.worker_lists(items, len(os.sched_getaffinity(0))))
    for run in launched.runs:
        env = run["env"]
        assert env["LD_PRELOAD"] == "libmimalloc.so.2" and env["MIMALLOC_ALLOW_DECOMMIT"] == "0"
        assert env["PYTHONHASHSEED"] == "0" and env["ASV_ENV"] == "x"
        assert env[FIXED_WARMUP_ENV] == str(counting.WARMUP_CALLS)
        assert env[counting.OUT_DIR_ENV] == str(tmp_path)
        assert json.loads(run["args"][2])[:2] == ["valgrind", "--tool=callgrind"]
    cpus = sorted(os.sched_getaffinity(0))
    schedules = [json.loads(run["args"][3]) for run in launched.runs]
    assert schedules == [[cpus[n % len(cpus)], counting.realtime_refused() is None] for n in range(len(schedules))]


def test_workers_take_one_cpu_each_in_turn():
    assert asv_launch.worker_schedules(3, {4, 1}, True) == [(1, True), (4, True), (1, True)]
    assert asv_launch.worker_schedules(2, [0], False) == [(0, False), (0, False)]


@pytest.mark.skipif(not hasattr(os, "sched_setscheduler"), reason="Linux scheduling")
@pytest.mark.parametrize("realtime", [True, False])
def test_a_worker_becomes_its_command_on_its_cpu_with_its_scheduling(realtime):
    """The launch snippet, with the command a python that prints what it inherited instead of valgrind."""
    if realtime and counting.realtime_refused():
        pytest.skip(f"real-time priority refused here: {counting.realtime_refused()}")
    cpu = sorted(os.sched_getaffinity(0))[-1]
    show = "import os; print(sorted(os.sched_getaffinity(0)), os.sched_getscheduler(0))"
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            asv_launch._EXEC_UNDER_VALGRIND,
            json.dumps([sys.executable, "-c", show]),
            json.dumps([cpu, realtime]),
            "ignored",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    policy = os.SCHED_FIFO if realtime else os.SCHED_BATCH
    assert out == [f"[{cpu}]", str(policy)]


def test_real_time_is_refused_where_linux_does_not_cap_it(tmp_path, monkeypatch):
    uncapped = tmp_path / "sched_rt_runtime_us"
    uncapped.write_text("-1\n")
    monkeypatch.setattr(counting, "RT_RUNTIME", uncapped)
    assert "not capped" in (counting.realtime_refused() or "")


def test_the_variants_to_count_are_asv_s_selection_once_each():
    variants = ["'16x128x1024'", "'32x16x1024'"]
    benchmarks = {
        "ops.ReLU.time_mlx_cpu": {"params": [variants]},
        "ops.ReLU.track_instructions_mlx_cpu": {"params": [variants]},
        "ops.ReLU.track_cycles_estimate_mlx_cpu": {"params": [variants]},
        "ops.ReLU.track_ll_misses_torch_cpu": {"params": [variants]},
    }
    selection = {
        "ops.ReLU.track_instructions_mlx_cpu": [1],
        "ops.ReLU.track_cycles_estimate_mlx_cpu": [0, 1],
        "ops.ReLU.track_ll_misses_torch_cpu": None,
    }
    assert asv_launch.count_items(benchmarks, selection) == [
        ("ReLU", "16x128x1024", "mlx_cpu"),
        ("ReLU", "32x16x1024", "mlx_cpu"),
        ("ReLU", "16x128x1024", "torch_cpu"),
        ("ReLU", "32x16x1024", "torch_cpu"),
    ]


def test_a_fixed_warm_up_makes_exactly_that_many_calls(monkeypatch):
    op = CATALOG["ReLU"]
    variant = op.variants("tiny")[0]
    monkeypatch.setenv(FIXED_WARMUP_ENV, "7")
    prepared = BACKENDS["torch_cpu"].prepare(op, variant, op.make_inputs(variant))
    calls = []
    prepared.timed = lambda: calls.append(1)
    assert prepared.warm_up() == 7 and len(calls) == 7 and len(prepared.warm_up_times) == 7


def test_the_torch_worker_never_imports_mlx_and_stores_what_stopped_it(tmp_path):
    """Outside valgrind the worker cannot count: it stores why, for ASV's reader, and goes on."""
    items = tmp_path / "items.json"
    variant = CATALOG["ReLU"].variants("tiny")[0].id
    items.write_text(json.dumps([["ReLU", variant, "torch_cpu"]]))
    script = (
        "import sys; from mlxbench.harness import count_worker; count_worker.main(sys.argv[1]); "
        "print('MLX-IMPORTED', 'mlx' in sys.modules, 'TORCH-IMPORTED', 'torch' in sys.modules)"
    )
    env = {**os.environ, counting.OUT_DIR_ENV: str(tmp_path), "MLXBENCH_PRESET": "tiny"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(items)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    assert "MLX-IMPORTED False TORCH-IMPORTED True" in done.stdout, done.stdout + done.stderr
    with pytest.raises(counting.CountFailed, match="only under valgrind"):
        counting.outcome(counting.key("ReLU", variant, "torch_cpu"), tmp_path)


def test_counted_benchmarks_exist_for_cpu_backends_only_and_say_instructions():
    cls = benchmark_class(CATALOG["ReLU"], "tiny", __name__)
    counted = sorted(n for n in vars(cls) if benchmark_names.is_counted(f"ops.ReLU.{n}"))
    cpu = [b for b in BACKENDS.values() if b.device == "cpu"]
    assert len(counted) == 3 * len(cpu)
    assert all(getattr(cls, n).unit in ("instructions", "misses", "cycles") for n in counted)
    assert {getattr(cls, f"track_instructions_{b.name}").unit for b in cpu} == {"instructions"}
    assert not any(n.endswith(("_mlx_gpu", "_cuda", "_mps")) for n in counted)
    # the time benchmarks keep their names and versions; the counted ones add the counting method's revision
    assert cls.time_mlx_cpu.version == asv_suite.benchmark_version(CATALOG["ReLU"], "mlx_cpu")
    for b in cpu:  # each framework's counts carry its own revision: a change to one leaves the other's comparable
        revision = counting.method_revision(b.framework)
        assert (
            getattr(cls, f"track_instructions_{b.name}").version
            == f"{asv_suite.benchmark_version(CATALOG['ReLU'], b.name)}-c{revision}"
        )
    assert counting.method_revision("mlx") == 7 and counting.method_revision("torch") == 5


def test_outside_valgrind_a_counted_benchmark_is_na(monkeypatch):
    monkeypatch.delenv(counting.OUT_DIR_ENV, raising=False)
    cls = benchmark_class(CATALOG["ReLU"], "tiny", __name__)
    with pytest.raises(NotImplementedError, match="only under valgrind"):
        cls.track_instructions_mlx_cpu.setup(CATALOG["ReLU"].variants("tiny")[0].id)


def test_no_valgrind_is_na_with_the_install_line_and_refused_by_the_jobs(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no valgrind on it
    reason = asv_launch.counting_unavailable("ops.ReLU.track_instructions_mlx_cpu")
    assert reason == counting.INSTALL_LINE and "apt-get install valgrind libmimalloc2.0" in reason
    assert asv_launch.counting_unavailable("ops.ReLU.time_mlx_cpu") is None
    benchmark = {"name": "ops.ReLU.track_instructions_mlx_cpu", "params": [["a", "b"]]}
    result = asv_patches._run_benchmark(benchmark, SimpleNamespace(), False)
    assert all(math.isnan(v) for v in result.result) and result.stderr == f"n/a: {counting.INSTALL_LINE}"
    with pytest.raises(UsageError, match="apt-get install valgrind"):
        asv_run.for_metric([BACKENDS["mlx_cpu"]], "instructions")
    assert asv_run.for_metric([BACKENDS["mlx_cpu"]], "time") == [BACKENDS["mlx_cpu"]]


def test_a_count_without_the_preloaded_allocator_is_refused(monkeypatch):
    """A process without the preloaded mimalloc (not a counting worker) cannot count: another method's counts."""
    if hasattr(ctypes.CDLL(None), "mi_collect"):
        pytest.skip("this test process itself preloads mimalloc")
    monkeypatch.setattr(counting, "_allocator_collect", functools.cache(counting._allocator_collect.__wrapped__))
    with pytest.raises(RuntimeError, match="preload libmimalloc.so.2"):
        counting.count(FakeCallgrind([]), lambda: None, "x", 1)


def test_no_mimalloc_is_the_install_line_too(monkeypatch):
    monkeypatch.setattr(counting.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(counting.ctypes.util, "find_library", lambda name: None)
    assert counting.tools_missing() == counting.INSTALL_LINE
    monkeypatch.setattr(counting.ctypes.util, "find_library", lambda name: f"lib{name}.so.1")
    assert counting.tools_missing() == counting.INSTALL_LINE, "another mimalloc than the one preloaded"
    monkeypatch.setattr(counting.ctypes.util, "find_library", lambda name: f"lib{name}.so.2")
    assert counting.tools_missing() is None


def test_no_valgrind_bench_says_how_to_install_it_without_a_traceback(tmp_path):
    tools = tmp_path / "bin"  # git and this interpreter, no valgrind
    tools.mkdir()
    (tools / "git").symlink_to(shutil.which("git"))
    env = {**os.environ, "PATH": f"{tools}:{Path(sys.executable).parent}"}
    assert shutil.which("valgrind", path=env["PATH"]) is None
    done = subprocess.run(
        [sys.executable, "-m", "mlxbench", "bench", "--metric", "instructions", "--preset", "tiny", "--op", "ReLU"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    assert "apt-get install valgrind" in done.stderr and "Traceback" not in done.stderr


def test_a_plain_asv_run_leaves_counting_to_an_explicit_selection():
    (regex,) = asv_launch.default_selection(None)
    assert re.search(regex, "ops.ReLU.time_mlx_cpu")
    assert re.search(regex, "ops.ReLU.peakmem_torch_cpu")
    assert not re.search(regex, "ops.ReLU.track_instructions_mlx_cpu")
    assert not re.search(regex, "ops.Sum.track_cycles_estimate_torch_cpu")
    assert asv_launch.default_selection(["track_instructions"]) == ["track_instructions"]


class FakeSpawner:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log
        self.env = SimpleNamespace(env_vars={})
        self.benchmark_dir = "benchmarks"

    def run(self, name: str, *args: object) -> tuple[str, int]:
        self.log.append(f"{self.name} {name}")
        return "", 0

    def preimport(self) -> tuple[bool, str]:
        self.log.append(f"{self.name} preimport")
        return True, ""

    def close(self) -> None:
        self.log.append(f"{self.name} close")

    def interrupt(self) -> None:
        pass


class FakeWorkers:
    def __init__(self, log: list[str], env: object, out_dir: Path, items: list) -> None:
        self.log = log
        log.append(f"workers {items}")
        self.out_dirs.append(out_dir)

    out_dirs: list[Path] = []

    def wait(self) -> None:
        self.log.append("workers done")


def test_counted_benchmarks_are_counted_at_once_by_the_workers_and_time_benchmarks_never_are(monkeypatch):
    log: list[str] = []
    started: list[str] = []

    def server(env: object, benchmark_dir: str, out_dir: Path) -> FakeSpawner:
        started.append(benchmark_dir)
        return FakeSpawner("counted", log)

    monkeypatch.setattr(asv_launch, "CountingServer", server)
    monkeypatch.setattr(asv_launch.CountingWorkers, "start", lambda *args: FakeWorkers(log, *args))
    items = [("ReLU", "a", "mlx_cpu"), ("ReLU", "a", "torch_cpu")]
    spawner = asv_launch.Dispatching(FakeSpawner("plain", log), items)
    spawner.run("ops.ReLU.time_mlx_cpu-0", "{}")
    assert started == [] and not any(line.startswith("workers") for line in log), "a time-only run never counts"
    for i in range(3):
        spawner.run(f"ops.ReLU.track_instructions_mlx_cpu-{i}", "{}")
        spawner.run(f"ops.ReLU.track_ll_misses_torch_cpu-{i}", "{}")
    spawner.run("ops.ReLU.time_torch_cpu-1", "{}")
    spawner.close()
    assert started == ["benchmarks"], "one counted benchmarks' server per commit and environment"
    assert log.index(f"workers {items}") < log.index("workers done") < log.index("counted preimport")
    assert sum(line.startswith("workers [") for line in log) == 1, "every selected variant counted in one go"
    assert [line for line in log if "time_" in line] == [
        "plain ops.ReLU.time_mlx_cpu-0",
        "plain ops.ReLU.time_torch_cpu-1",
    ]
    assert all(line.startswith("counted") for line in log if "track_" in line)
    assert log[-2:] == ["plain close", "counted close"]
    assert FakeWorkers.out_dirs and not FakeWorkers.out_dirs[-1].exists(), "the workers' directory is removed"


def test_a_variant_no_worker_stored_fails_with_the_workers_last_words(tmp_path):
    class Ended:
        returncode = -11

        def communicate(self) -> tuple[str, None]:
            return "ReLU a mlx_cpu: 1000 instructions, 0.1 s\nSegmentation fault", None

    workers = asv_launch.CountingWorkers.__new__(asv_launch.CountingWorkers)
    workers.out_dir, workers.items, workers.procs = (
        tmp_path,
        [("ReLU", "a", "mlx_cpu"), ("ReLU", "b", "mlx_cpu")],
        [Ended()],
    )
    (tmp_path / "ReLU.a.mlx_cpu.counts").write_text("1000 2 1")
    workers.wait()
    assert counting.outcome("ReLU.a.mlx_cpu", tmp_path) == counting.Counts(1000, 2, 1)
    with pytest.raises(
        counting.CountFailed, match=r"no counting worker stored ReLU.b.mlx_cpu(.|\n)*exit -11(.|\n)*Segmentation"
    ):
        counting.outcome("ReLU.b.mlx_cpu", tmp_path)


def _count_script(calls_per_body: list[int]) -> str:
    """A process that counts ReLU's smallest default mlx_cpu variant with ``n`` calls per body, for each n."""
    return f"""
import json, os, sys
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from mlxbench.catalog import CATALOG
from mlxbench.harness import counting
from mlxbench.harness.backends import BACKENDS, FIXED_WARMUP_ENV
op = CATALOG["ReLU"]
variant = min(op.variants("default"), key=lambda v: sum(a.size for a in op.make_inputs(v).values()))
call = BACKENDS["mlx_cpu"].prepare(op, variant, op.make_inputs(variant))
callgrind = counting.Callgrind(Path(os.environ[counting.OUT_DIR_ENV]))
found = {{}}
for n in {calls_per_body!r}:
    body = (lambda: None) if n == 0 else (lambda n=n: [call.timed() for _ in range(n)])
    found[n] = counting.count(callgrind, body, f"calls-{{n}}", counting.REPEAT_BELOW["mlx"]).instructions
print("COUNTS " + json.dumps(found))
"""


@needs_valgrind
def test_two_calls_count_twice_one_and_an_empty_body_next_to_nothing(tmp_path):
    command = [*counting.valgrind_command(tmp_path), sys.executable, "-c", _count_script([1, 2, 0, 1])]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, **counting.worker_env(), counting.OUT_DIR_ENV: str(tmp_path)},
        timeout=600,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("COUNTS ")), None)
    assert line, done.stdout + done.stderr
    found = {int(k): v for k, v in json.loads(line[7:]).items()}
    assert found[2] / found[1] == pytest.approx(2.0, rel=0.01)
    assert found[0] < 0.01 * found[1], "the counted region adds next to nothing around the body"
    assert not list(tmp_path.glob("callgrind.out.*.*")), "each dump is read and removed"


def test_the_wait_says_how_far_the_workers_are_and_an_interrupt_stops_them_first(tmp_path, monkeypatch):
    class Counting:
        returncode = None

        def __init__(self, log: list[str], name: str) -> None:
            self.log, self.name, self.killed = log, name, threading.Event()

        def communicate(self) -> tuple[str, None]:
            self.killed.wait(30)  # counting until killed
            return "", None

        def kill(self) -> None:
            self.log.append(f"kill {self.name}")
            self.killed.set()

        def wait(self) -> int:
            self.log.append(f"wait {self.name}")
            return -9

    def ctrl_c_after_two(line: str) -> None:
        said.append(line)
        if len(said) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(asv_launch, "PROGRESS_SECONDS", 0.01)
    log: list[str] = []
    said: list[str] = []
    items = [("ReLU", "a", "mlx_cpu"), ("ReLU", "b", "mlx_cpu")]
    workers = asv_launch.CountingWorkers(tmp_path, items, [Counting(log, "torch"), Counting(log, "mlx")])
    (tmp_path / "ReLU.a.mlx_cpu.counts").write_text("1000 2 1")
    (tmp_path / "ReLU.a.mlx_cpu.claim").write_text("1")
    with pytest.raises(KeyboardInterrupt):
        workers.wait(ctrl_c_after_two)
    assert said == ["counted 1 of 2 variants"] * 2
    assert log == ["kill torch", "kill mlx", "wait torch", "wait mlx"]
    assert not list(tmp_path.glob("*.error")), "an abandoned run stores no failures"
