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

import os
from typing import Any, Callable

from mlxbench.backends import BACKENDS, Prepared, Unavailable
from mlxbench.ops import CATALOG, PRESETS
from mlxbench.spec import Op

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


def _time_method(op: Op, backend: str, preset: str) -> Callable[..., Any]:
    current: dict[str, Prepared] = {}

    def setup(variant_id: str) -> None:
        current["call"] = prepare(op, variant_id, backend, preset)

    def time_method(self: Any, variant_id: str) -> None:
        current["call"].run()

    time_method.__name__ = f"time_{backend}"
    time_method.__qualname__ = f"{op.name}.time_{backend}"
    time_method.setup = setup  # ASV: a method's own setup runs before it (and only it)
    return time_method


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
        # benchmark (setup is reused within it); 3 to 10 samples, stopping after 2 s.
        "warmup_time": 0.0,
        "rounds": 1,
        "repeat": (3, 10, 2.0),
        "min_run_count": 1,
    }
    for backend in BACKENDS:
        attrs[f"time_{backend}"] = _time_method(op, backend, preset)
    return type(op.name, (), attrs)


def benchmark_classes(module: str) -> dict[str, type]:
    preset = preset_from_env()
    return {name: benchmark_class(op, preset, module) for name, op in CATALOG.items()}
