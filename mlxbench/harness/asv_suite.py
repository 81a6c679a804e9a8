"""Builds the ASV benchmark classes from the catalog: one class per op.

Each class has ``params`` over the op's variants in the preset named by
``MLXBENCH_PRESET`` (``default`` unless set) and one ``time_<backend>`` method
per backend. Each method carries its own ``setup``: ASV calls it before every
sample, and it hands back the backend's prepared call (inputs on the device,
materialized, compiled, warmed up), built once per process and reused because
no op mutates its inputs. The timed body is ``Prepared.run``: one call of the
op and the synchronization of its output, nothing else.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable
from typing import Any

from mlxbench.catalog import CATALOG, PRESETS
from mlxbench.catalog.spec import Op
from mlxbench.harness import versions
from mlxbench.harness.backends import BACKENDS, Prepared, Unavailable

PRESET_ENV = "MLXBENCH_PRESET"
HARNESS_REVISION = 1
"""Bump when the timing method itself changes (all history restarts)."""


def benchmark_version(op: Op) -> str:
    """ASV's ``version`` of the op's benchmarks: results under another version are not comparable."""
    return f"{op.name}-r{op.revision}-h{HARNESS_REVISION}"


def preset_from_env() -> str:
    preset = os.environ.get(PRESET_ENV, "default")
    if preset not in PRESETS:
        raise ValueError(f"{PRESET_ENV}={preset!r} is not a preset; valid presets: {', '.join(PRESETS)}")
    return preset


_prepared: dict[tuple[str, str, str], Prepared] = {}


def prepare(op: Op, variant_id: str, backend: str, preset: str) -> Prepared:
    """The prepared call for one benchmark, built on first use in this process."""
    key = (op.name, variant_id, backend)
    if key not in _prepared:
        variant = next(v for v in op.variants(preset) if v.id == variant_id)
        try:
            _prepared[key] = BACKENDS[backend].prepare(op, variant, op.make_inputs(variant))
        except Unavailable as exc:
            raise NotImplementedError(str(exc)) from None  # ASV shows n/a, not a failure
    return _prepared[key]


def _bind(
    op: Op, backend: str, preset: str, kind: str, body: Callable[[Prepared], Any], doc: str
) -> Callable[..., Any]:
    """An ASV method ``<kind>_<backend>`` whose own setup fetches the prepared call."""
    current: dict[str, Prepared] = {}

    def setup(variant_id: str) -> None:
        current["call"] = prepare(op, variant_id, backend, preset)

    def method(self: Any, variant_id: str) -> Any:
        return body(current["call"])

    method.__name__ = f"{kind}_{backend}"
    method.__qualname__ = f"{op.name}.{kind}_{backend}"
    method.__doc__ = doc
    method.setup = setup  # ASV: a method's own setup runs before it (and only it)
    return method


def _device_peak(backend: str) -> Callable[[Prepared], int]:
    def body(call: Prepared) -> int:
        peak = BACKENDS[backend].device_peak_bytes(call.run)
        if peak is None:
            raise NotImplementedError(f"{backend} has no peak-memory counter in this framework version")
        return peak

    return body


def _methods(op: Op, backend: str, preset: str) -> dict[str, Callable[..., Any]]:
    """time_ (seconds), peakmem_ (the process's peak RSS, bytes) and, on devices, track_device_peak_."""
    methods = {
        # Prepared.run itself, not a wrapper around it: one Python frame less inside every timed sample.
        f"time_{backend}": _bind(
            op, backend, preset, "time", Prepared.run, "One call of the op plus its synchronization."
        ),
        f"peakmem_{backend}": _bind(
            op,
            backend,
            preset,
            "peakmem",
            Prepared.run,
            "Peak resident memory of the benchmark process (inputs, outputs, framework).",
        ),
    }
    if BACKENDS[backend].device != "cpu":
        track = _bind(
            op,
            backend,
            preset,
            "track_device_peak",
            _device_peak(backend),
            "Peak device memory of one call, from the framework's own counter.",
        )
        track.unit = "bytes"
        methods[f"track_device_peak_{backend}"] = track
    return methods


def benchmark_class(op: Op, preset: str, module: str) -> type:
    """The ASV class for ``op``: params over variants, ``time_<backend>`` per backend."""
    attrs: dict[str, Any] = {
        "__doc__": f"{op.name}: MLX against PyTorch on every backend ({preset} preset).",
        "__module__": module,
        "params": [[v.id for v in op.variants(preset)]],
        "param_names": ["variant"],
        # history survives cosmetic edits; bump Op.revision when the measured work changes
        "version": benchmark_version(op),
        "timeout": 600.0,
        # Sampling: prepare() already warmed up, so no ASV warm-up; one process per
        # variant (setup is reused within it). asv_runner times one call per sample
        # when there is a setup, so take many: at least 10, until 1 s of sampling
        # or 5000 samples. The sampling then outweighs the process and setup around
        # it (tools/harness_bench.py overhead), and the quartiles are worth reading.
        "warmup_time": 0.0,
        "rounds": 1,
        "repeat": (10, 5000, 1.0),
        "min_run_count": 1,
    }
    for backend in BACKENDS:
        attrs.update(_methods(op, backend, preset))
    return type(op.name, (), attrs)


def preimport_frameworks() -> None:
    """Import MLX and PyTorch now, where installed.

    Under ASV's ``forkserver`` launch method (Linux; `mlxbench bench` uses it)
    the suite is imported once and every benchmark process is forked from it,
    so the second of framework imports is paid once per run instead of once per
    benchmark. Under ``spawn`` it costs what the first use would have. MLX is
    imported with TF32 off (:data:`~mlxbench.harness.versions.MLX_FLOAT32_ENV`),
    which every forked benchmark inherits.
    """
    versions.pin_mlx_float32()
    for name in ("mlx.core", "mlx.nn", "torch"):
        with contextlib.suppress(ImportError):  # the backend reports itself unavailable; discovery must not fail
            importlib.import_module(name)


def benchmark_classes(module: str) -> dict[str, type]:
    preset = preset_from_env()
    return {name: benchmark_class(op, preset, module) for name, op in CATALOG.items()}
