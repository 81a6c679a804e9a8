"""Builds the ASV benchmark classes from the catalog: one class per op.

Each class has ``params`` over the op's variants in the preset named by
``MLXBENCH_PRESET`` (``default`` unless set) and one ``time_<backend>`` method
per backend. Each method carries its own ``setup``: ASV calls it before every
sample, and it hands back the backend's prepared call (inputs on the device,
materialized, compiled, warmed up), built once per process and reused because
no op mutates its inputs. The timed body is ``Prepared.timed``: one call of
the op and the synchronization of its output where there is any, nothing else.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from mlxbench.catalog import CATALOG, PRESETS
from mlxbench.catalog.spec import Op
from mlxbench.harness import benchmark_names, counting, load, versions
from mlxbench.harness.backends import BACKENDS, Prepared, Unavailable

PRESET_ENV = "MLXBENCH_PRESET"
HARNESS_REVISION = 1
"""Bump when the timing method itself changes (all history restarts)."""


def benchmark_version(op: Op, backend: str, kind: str = benchmark_names.TIME) -> str:
    """ASV's ``version`` of the op's ``kind`` of benchmark on ``backend``: results under another are not comparable.

    A backend's own :attr:`~mlxbench.harness.backends.Backend.revision` is
    appended only where it is not 0, so the other backends' series go on; the
    counted kinds append the counting method's revision
    (:func:`~mlxbench.harness.counting.method_revision` of the backend's framework) beyond its first.
    """
    revision = BACKENDS[backend].revision
    version = f"{op.name}-r{op.revision}-h{HARNESS_REVISION}" + (f"-b{revision}" if revision else "")
    if kind in benchmark_names.COUNTED and (counted := counting.method_revision(BACKENDS[backend].framework)) > 1:
        version += f"-c{counted}"
    return version


def preset_from_env() -> str:
    preset = os.environ.get(PRESET_ENV, "default")
    if preset not in PRESETS:
        raise ValueError(f"{PRESET_ENV}={preset!r} is not a preset; valid presets: {', '.join(PRESETS)}")
    return preset


MIN_SAMPLES = 10
MAX_SAMPLES = 10_000
SAMPLING_SECONDS = 0.2
"""The time cap: past it, ASV stops sampling once it has MIN_SAMPLES (a 10 ms op gets 20).

Where the machine is noisy, most slower variants reach it: so it sets what a
sweep costs (one release, default preset, 3 CPU backends: 285 time medians).
"""
ROUNDS_ENV = "MLXBENCH_ROUNDS"
"""How many rounds the driver runs each benchmark in (``mlxbench history``: 2, interleaved across commits)."""


def sampling_seconds() -> float:
    """Each round's time cap: SAMPLING_SECONDS shared by the rounds (:data:`ROUNDS_ENV`), as ASV halves its own.

    So a history's two rounds sample as long as the main job's one, and cost
    about what it does per commit.
    """
    value = os.environ.get(ROUNDS_ENV, "").strip()
    rounds = int(value) if value.isdigit() and int(value) > 0 else 1
    return SAMPLING_SECONDS / rounds


CI_HALF_WIDTH = 0.01
"""Sampling stops once the median's 99% confidence interval is expected within +-1% of it."""
Z_99 = 2.576
PILOT_CALLS = 20
PILOT_SECONDS = 0.02
"""The pilot's budget, a tenth of the time cap, the warm-up's second half included."""
PILOT_MIN_CALLS = 4


def samples_needed(pilot: Sequence[float]) -> int:
    """How many samples put the median's 99% confidence interval within +-CI_HALF_WIDTH, judged from a pilot.

    The median of n samples has a standard error of 1 / (2 f sqrt(n)), f the
    density at the median. Half of all samples fall inside the interquartile
    range, so f is about 0.5 / IQR and the error about IQR / sqrt(n) (7% more
    than the exact value for normal noise: on the safe side). The interval
    z * IQR / sqrt(n) is within the target once n >= (z * IQR / (target * median))^2.
    """
    q1, median, q3 = statistics.quantiles(pilot, n=4)
    return max(MIN_SAMPLES, min(MAX_SAMPLES, math.ceil((Z_99 * (q3 - q1) / (CI_HALF_WIDTH * median)) ** 2)))


def sampling_plan(call: Prepared) -> tuple[int, int, float]:
    """ASV's ``repeat`` for one benchmark: (at least, at most, seconds), from a pilot of timed calls.

    asv_runner reads ``repeat`` once per benchmark, before its first sample, and
    then samples until ``at most`` samples, or past ``seconds`` once it has
    ``at least``: so the stopping rule is decided here, in setup, and ASV stores
    its samples and statistics as always. The pilot starts from the second
    half of the warm-up's calls (past compiling and the allocator's first
    pages, already paid for) and adds calls up to PILOT_CALLS while its time
    stays within PILOT_SECONDS: for calls over a few milliseconds it adds none.
    Without PILOT_MIN_CALLS timings (calls slower than about 40 ms) the cap
    leaves at most a few samples over the minimum to choose: those sample
    until the cap, at least MIN_SAMPLES.
    """
    times = list(call.warm_up_times[len(call.warm_up_times) // 2 :])
    spent = sum(times)
    while len(times) < PILOT_CALLS and spent < PILOT_SECONDS:
        start = time.perf_counter()
        call.run()
        times.append(time.perf_counter() - start)
        spent += times[-1]
    if len(times) < PILOT_MIN_CALLS:
        return (MIN_SAMPLES, MAX_SAMPLES, sampling_seconds())
    return (MIN_SAMPLES, samples_needed(times), sampling_seconds())


_prepared: dict[tuple[str, str, str], Prepared] = {}
_plans: dict[tuple[str, str, str], tuple[int, int, float]] = {}
_loads: dict[tuple[str, str, str], load.SamplingLoad] = {}


def prepare(op: Op, variant_id: str, backend: str, preset: str, keep: bool = True) -> Prepared:
    """The prepared call for one benchmark, built on first use in this process (and kept there unless not ``keep``)."""
    key = (op.name, variant_id, backend)
    if key in _prepared:
        return _prepared[key]
    variant = next(v for v in op.variants(preset) if v.id == variant_id)
    try:
        prepared = BACKENDS[backend].prepare(op, variant, op.make_inputs(variant))
    except Unavailable as exc:
        raise NotImplementedError(str(exc)) from None  # ASV shows n/a, not a failure
    if keep:
        _prepared[key] = prepared
    return prepared


def _bind(
    op: Op, backend: str, preset: str, kind: str, body: Callable[[Prepared], Any], doc: str
) -> Callable[..., Any]:
    """An ASV method ``<kind>_<backend>`` whose own setup fetches the prepared call."""
    current: dict[str, Prepared] = {}

    def setup(variant_id: str) -> None:
        current["call"] = prepare(op, variant_id, backend, preset)
        if kind == benchmark_names.TIME:  # ASV reads repeat after setup; setup runs before every sample, the pilot once
            key = (op.name, variant_id, backend)
            if key not in _plans:
                _plans[key] = sampling_plan(current["call"])
            if key not in _loads:
                # The window opens at the first sample, not before preparing: the benchmark process before
                # this one may still be ending then (a process that imported torch spends about 0.3 s of CPU
                # after its last line, measured here) and ASV files the last result: neither samples beside
                # this benchmark. Each teardown extends the window.
                _loads[key] = load.SamplingLoad(benchmark_names.build(op.name, kind, backend), variant_id)
            method.repeat = _plans[key]

    def teardown(variant_id: str) -> None:
        """After each sample: how busy the machine has been since the first (:class:`~.load.SamplingLoad`)."""
        if (window := _loads.get((op.name, variant_id, backend))) is not None:
            window.extend()

    if body is Prepared.run:  # the timed body itself: nothing between ASV's timer and the op but this frame

        def method(self: Any, variant_id: str) -> Any:
            return current["call"].timed()

    else:

        def method(self: Any, variant_id: str) -> Any:
            return body(current["call"])

    method.__name__ = benchmark_names.method(kind, backend)
    method.__qualname__ = f"{op.name}.{method.__name__}"
    method.__doc__ = doc
    method.setup = setup  # ASV: a method's own setup runs before it (and only it)
    method.version = benchmark_version(op, backend)  # ASV reads a method's version before its class's
    if kind == benchmark_names.TIME:
        method.teardown = teardown
    return method


def _device_peak(backend: str) -> Callable[[Prepared], int]:
    def body(call: Prepared) -> int:
        peak = BACKENDS[backend].device_peak_bytes(call.run)
        if peak is None:
            raise NotImplementedError(f"{backend} has no peak-memory counter in this framework version")
        return peak

    return body


_COUNT_OF: dict[str, Callable[[counting.Counts], int]] = {
    benchmark_names.INSTRUCTIONS: lambda c: c.instructions,
    benchmark_names.LL_MISSES: lambda c: c.ll_misses,
    benchmark_names.CYCLES: lambda c: c.cycles,
}
_COUNTED_DOCS = {
    benchmark_names.INSTRUCTIONS: "Instructions of one warm call of the timed body, counted by callgrind.",
    benchmark_names.LL_MISSES: "Simulated last-level cache misses of that call, from empty caches.",
    benchmark_names.CYCLES: "Estimated cycles of that call: instructions + 10 x L1 misses + 100 x LL misses.",
}


def count_variant(op: Op, variant_id: str, backend: str, preset: str) -> counting.Counts | None:
    """One warm call of the time benchmark's ``Prepared.timed``, counted, or its stored counts; None: claimed elsewhere.

    Prepared as the time benchmark is and warmed up as the counting process says
    (:data:`~mlxbench.harness.backends.FIXED_WARMUP_ENV`), then counted once
    (:func:`~mlxbench.harness.counting.count`); the prepared call is not kept.
    """
    return counting.counted(
        counting.key(op.name, variant_id, backend),
        lambda: prepare(op, variant_id, backend, preset, keep=False).timed,
        counting.REPEAT_BELOW[BACKENDS[backend].framework],
    )


def _counted(op: Op, backend: str, preset: str, kind: str) -> Callable[..., Any]:
    """``track_<counted kind>_<backend>``: one warm call of ``Prepared.timed`` under callgrind (n/a elsewhere).

    The kinds share one counted call per variant, counted by whichever process
    of the run claims it first (:mod:`mlxbench.harness.count_worker`), read by the others.
    """
    current: dict[str, counting.Counts] = {}

    def setup(variant_id: str) -> None:
        if (reason := counting.under_valgrind()) is not None:
            raise NotImplementedError(reason)  # ASV shows n/a
        counts = count_variant(op, variant_id, backend, preset)
        if counts is None:
            key = counting.key(op.name, variant_id, backend)
            raise counting.CountFailed(f"{key} is being counted by another process")
        current["counts"] = counts

    def method(self: Any, variant_id: str) -> int:
        return _COUNT_OF[kind](current.pop("counts"))

    method.__name__ = benchmark_names.method(kind, backend)
    method.__qualname__ = f"{op.name}.{method.__name__}"
    method.__doc__ = _COUNTED_DOCS[kind]
    method.setup = setup
    method.version = benchmark_version(op, backend, kind)
    method.unit = benchmark_names.UNITS[kind]
    return method


def _methods(op: Op, backend: str, preset: str) -> dict[str, Callable[..., Any]]:
    """time_ (seconds), peakmem_ (peak RSS, bytes), and track_device_peak_ on devices or the counted kinds on CPUs."""
    methods = [
        # Prepared.run marks the timed body: the method calls Prepared.timed itself, one frame and no more.
        _bind(op, backend, preset, benchmark_names.TIME, Prepared.run, "One call of the op plus its synchronization."),
        _bind(
            op,
            backend,
            preset,
            benchmark_names.PEAKMEM,
            Prepared.run,
            "Peak resident memory of the benchmark process (inputs, outputs, framework).",
        ),
    ]
    if BACKENDS[backend].device != "cpu":
        track = _bind(
            op,
            backend,
            preset,
            benchmark_names.DEVICE_PEAK,
            _device_peak(backend),
            "Peak device memory of one call, from the framework's own counter.",
        )
        track.unit = "bytes"
        methods.append(track)
    else:
        methods += [_counted(op, backend, preset, kind) for kind in benchmark_names.COUNTED]
    return {m.__name__: m for m in methods}


def benchmark_class(op: Op, preset: str, module: str) -> type:
    """The ASV class for ``op``: params over variants, ``time_<backend>`` per backend."""
    attrs: dict[str, Any] = {
        "__doc__": f"{op.name}: MLX against PyTorch on every backend ({preset} preset).",
        "__module__": module,
        "params": [[v.id for v in op.variants(preset)]],
        "param_names": ["variant"],
        # history survives cosmetic edits; bump Op.revision when the measured work changes
        # (each method carries its version: a backend's revision restarts only its series)
        "timeout": 600.0,
        # Sampling: prepare() already warmed up, so no ASV warm-up; one process per
        # variant (setup is reused within it). asv_runner times one call per sample
        # when there is a setup. Each time_ method's setup sets its own repeat from
        # a pilot (sampling_plan): at least 10 samples, then until the median's
        # 99% interval is expected within +-1%, or SAMPLING_SECONDS. This class
        # value is the envelope, used only where setup never ran.
        "warmup_time": 0.0,
        "rounds": 1,
        "repeat": (MIN_SAMPLES, MAX_SAMPLES, SAMPLING_SECONDS),
        "min_run_count": 1,
    }
    for backend in BACKENDS:
        attrs.update(_methods(op, backend, preset))
    return type(op.name, (), attrs)


def preimport_frameworks(frameworks: Sequence[str] = ("mlx", "torch")) -> None:
    """Import MLX and PyTorch (or only ``frameworks``) now, where installed.

    Under ASV's ``forkserver`` launch method (Linux; `mlxbench bench` uses it)
    the suite is imported once and every benchmark process is forked from it,
    so the second of framework imports is paid once per run instead of once per
    benchmark. Under ``spawn`` it costs what the first use would have. MLX is
    imported with TF32 off (:data:`~mlxbench.harness.versions.MLX_FLOAT32_ENV`),
    which every forked benchmark inherits, and torch's CPU threads are set to
    :func:`~mlxbench.harness.versions.torch_threads`.
    """
    versions.pin_mlx_float32()
    modules = {"mlx": ("mlx.core", "mlx.nn"), "torch": ("torch",)}
    for name in (module for framework in frameworks for module in modules[framework]):
        with contextlib.suppress(ImportError):  # the backend reports itself unavailable; discovery must not fail
            importlib.import_module(name)
    versions.pin_torch_threads()


def benchmark_classes(module: str) -> dict[str, type]:
    """One ASV class per op with variants in the preset (a models-only op has none in default)."""
    preset = preset_from_env()
    return {name: benchmark_class(op, preset, module) for name, op in CATALOG.items() if op.variants(preset)}
