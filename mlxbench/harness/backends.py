"""Where an op runs: a framework, a device, and how to wait for the device.

A backend turns an op variant's numpy inputs into a :class:`Prepared` call:
inputs already on the device and materialized, the op's parameters bound,
compiled and warmed up where the backend compiles. ``Prepared.timed`` is then
exactly one call of the op followed by the synchronization of its output
(none where the backend has nothing to wait for), the body every timing in
mlxbench is made of.

A backend this machine lacks is never an error: :meth:`Backend.unavailable`
returns the reason, and so does :meth:`Backend.unsupported` for an op whose API
this MLX release does not have.
"""

from __future__ import annotations

import functools
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlxbench.catalog import frameworks
from mlxbench.catalog.spec import Arrays, Op, Variant
from mlxbench.harness import versions

WARMUP_CALLS = 10
WARMUP_SECONDS = 0.1
STEADY_CALLS = 3
STEADY_FRACTION = 0.8
"""A warm-up past its budget ends once its last calls are no faster than this share of the ones before."""
WARMUP_MAX_SECONDS = 1.0
FIXED_WARMUP_ENV = "MLXBENCH_WARMUP_CALLS"
"""Set in a counting worker: every warm-up is exactly this many calls, so each count starts from the same state."""


class Unavailable(RuntimeError):
    """Raised by :meth:`Backend.prepare` when the backend or the op cannot run here."""


@dataclass
class Prepared:
    """One op variant ready to time on one backend."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    sync: Callable[[Any], None]
    to_numpy: Callable[[Any], np.ndarray]
    """An output as numpy, float16/bfloat16 widened to float32 (exactly)."""
    dtype_of: Callable[[Any], str] = field(default=lambda out: "float32", repr=False)
    """An output's dtype by its plain name (``float16``, ``int64``): verification holds it to the variant's."""
    warm_up_times: list[float] = field(default_factory=list, repr=False)
    """Seconds of each warm-up call: the later ones are a free pilot for the sampling plan."""
    timed: Callable[[], Any] = field(init=False, repr=False, compare=False)
    """The timed body (:func:`timed_body`): the op's call and its synchronization, nothing else."""

    def __post_init__(self) -> None:
        self.timed = timed_body(self.fn, self.args, self.sync)

    def run(self) -> Any:
        """One call of the op, then wait for exactly that output (the timed body, outside any timing)."""
        return self.timed()

    def warm_up(self) -> int:
        """Run until steady, outside any timing; returns the number of calls.

        One call compiles and picks kernels, but the allocator needs a few
        more: measured here, torch's CPU ReLU on 8 MB takes 2 ms for its first
        five calls (fresh pages for each output) and 0.1 ms from the tenth on.
        So: at least WARMUP_CALLS calls or WARMUP_SECONDS, whichever comes
        first, then on while the calls still get faster (the median of the last
        STEADY_CALLS below STEADY_FRACTION of the STEADY_CALLS before: a cold
        start that outlasts the budget, a process paging in fresh libraries),
        up to WARMUP_MAX_SECONDS. A call of half the budget or more is steady
        at once (a seconds-long seed-preset call warms up once). Every sweep
        runs this twice per variant (time and peak memory), so its length is a
        real share of a sweep's cost. Where :data:`FIXED_WARMUP_ENV` is set
        (a counting worker), exactly that many calls, whatever they take.
        """
        started = time.perf_counter()
        times = self.warm_up_times
        times.clear()
        if fixed := int(os.environ.get(FIXED_WARMUP_ENV) or 0):
            for _ in range(fixed):
                start = time.perf_counter()
                self.run()
                times.append(time.perf_counter() - start)
            return fixed
        while True:
            start = time.perf_counter()
            self.run()
            now = time.perf_counter()
            times.append(now - start)
            if len(times) < WARMUP_CALLS and now - started < WARMUP_SECONDS:
                continue
            if now - started >= WARMUP_MAX_SECONDS or times[-1] >= WARMUP_SECONDS / 2:
                return len(times)
            if len(times) >= 2 * STEADY_CALLS:
                recent, before = times[-STEADY_CALLS:], times[-2 * STEADY_CALLS : -STEADY_CALLS]
                if statistics.median(recent) >= STEADY_FRACTION * statistics.median(before):
                    return len(times)


def timed_body(fn: Callable[..., Any], args: tuple[Any, ...], sync: Callable[[Any], None]) -> Callable[[], Any]:
    """One call of ``fn(*args)`` and the wait for its output, with no attribute read or frame more than that.

    Where the synchronization does nothing (``does_nothing``: torch on the CPU)
    it is not called at all: the body is a C-level ``partial``, cheaper than a
    Python ``lambda: fn(x)``. Elsewhere a closure over the three, no ``self.``
    lookups per call.
    """
    if getattr(sync, "does_nothing", False):
        return functools.partial(fn, *args)

    def timed() -> Any:
        out = fn(*args)
        sync(out)
        return out

    return timed


def _timed_function(framework: str, fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Callable[..., Any]:
    """An op's function as the timed body calls it, with everything but the call done now.

    The framework's stand-ins in the catalog become the real modules (no
    ``LazyModule.__getattr__`` per call), a version-dependent implementation is
    chosen (:class:`~mlxbench.catalog.frameworks.Chosen`; one that says
    ``NotImplementedError`` makes the op n/a with its words), and keywords are
    bound only where there are some (a ``partial`` is one more call per sample).
    """
    frameworks.load(framework)
    try:
        fn = frameworks.resolve(fn)
    except NotImplementedError as exc:
        raise Unavailable(str(exc)) from None
    return functools.partial(fn, **kwargs) if kwargs else fn


class Backend:
    """Base class: subclasses say how to place, call and synchronize.

    ``column`` is the backend's heading in reports (the older suite's tables
    call torch's CPU column ``cpu``); ``compiled`` marks a traced-and-compiled
    variant of another backend on the same device. Reports derive their
    speedup columns from these fields (:func:`speedup_pairs`), so a new
    backend is one entry in :data:`BACKENDS`.
    """

    name: str
    framework: str
    device: str
    column: str
    compiled: bool = False
    revision: int = 0
    """Bumped when this backend's method changes what it measures: its series restart, other backends' stay."""

    @property
    def accelerated(self) -> bool:
        """Runs on a GPU (Metal, CUDA, MPS) rather than the host CPU."""
        return self.device != "cpu"

    def unavailable(self) -> str | None:
        """Why this backend cannot run on this machine, or None if it can."""
        raise NotImplementedError

    def prepare(self, op: Op, variant: Variant, inputs: Arrays) -> Prepared:
        raise NotImplementedError

    def synchronizer(self) -> Callable[[Any], None]:
        """The one function that waits for an output on this backend (method audits compare against it)."""
        raise NotImplementedError

    def device_peak_bytes(self, run: Callable[[], Any]) -> int | None:
        """Peak device memory while ``run`` executes, by the framework's counter; None where it has none."""
        return None

    def _check(self, op: Op) -> None:
        """Raise :class:`Unavailable` (n/a) where the backend or the op is missing; a broken install is a failure."""
        if broken := versions.broken_import(self.framework):
            raise ImportError(broken)
        reason = self.unavailable() or self.unsupported(op)
        if reason:
            raise Unavailable(reason)

    def version(self) -> str:
        """The installed version of the backend's framework."""
        return versions.mlx_version() if self.framework == "mlx" else versions.torch_version()

    def unsupported(self, op: Op) -> str | None:
        """Why ``op`` cannot run on this backend's framework version (an API it lacks), or None."""
        needs = op.mlx_requires if self.framework == "mlx" else op.torch_requires
        missing = [path for path in needs if not versions.has_api(self.framework, path)]
        if missing:
            prefix = "mx." if self.framework == "mlx" else "torch."
            return f"unsupported in {self.framework} {self.version()}: needs " + ", ".join(prefix + p for p in missing)
        return None

    def _warm_up(self, prepared: Prepared, op: Op, variant: Variant) -> Prepared:
        """Warm ``prepared`` up; a float16/bfloat16 call the framework refuses is n/a, with its reason.

        float32 errors stay errors: every op of the catalog runs in float32 on every framework it names.
        """
        try:
            prepared.warm_up()
        except (RuntimeError, TypeError, ValueError, NotImplementedError) as exc:
            if variant.dtype == "float32":
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise Unavailable(
                f"no {variant.dtype} {op.name} in {self.framework} {self.version()} on {self.name}: {first}"
            ) from None
        return prepared


class MLXBackend(Backend):
    """MLX on its CPU or GPU device (Metal on macOS, CUDA on Linux), optionally ``mx.compile``d."""

    framework = "mlx"

    def __init__(self, name: str, device: str, compiled: bool = False) -> None:
        self.name, self.device, self.compiled, self.column = name, device, compiled, name

    def unavailable(self) -> str | None:
        if reason := versions.missing_by_install(self.framework):  # the timeline's install step said why
            return reason
        mx = versions.import_mlx()
        if isinstance(mx, str):
            return mx
        if self.device == "gpu" and not versions.mlx_gpu_available(mx):
            return "no MLX GPU: needs Metal (macOS) or mlx's CUDA build (pip install 'mlx[cuda12]')"
        if self.compiled and not hasattr(mx, "compile"):
            return f"unsupported in mlx {mx.__version__}: no mx.compile"
        return None

    def synchronizer(self) -> Callable[[Any], None]:
        import mlx.core as mx

        return mx.eval  # lazy graph: evaluating the output is the computation

    def device_peak_bytes(self, run: Callable[[], Any]) -> int | None:
        import mlx.core as mx

        # mx.get_peak_memory from 0.24; before that the counters lived under mx.metal.
        scope = mx if hasattr(mx, "get_peak_memory") else getattr(mx, "metal", None)
        if scope is None or not hasattr(scope, "reset_peak_memory"):
            return None
        scope.reset_peak_memory()
        run()
        return int(scope.get_peak_memory())

    def prepare(self, op: Op, variant: Variant, inputs: Arrays) -> Prepared:
        self._check(op)
        import mlx.core as mx

        mx.set_default_device(mx.gpu if self.device == "gpu" else mx.cpu)
        sync = self.synchronizer()
        args = mlx_arrays(inputs, variant.dtype)
        mx.eval(*args)  # inputs materialized now, not lazily inside the timed call
        fn = _timed_function(self.framework, op.mlx, variant.kwargs)
        if self.compiled:
            fn = mx.compile(fn)
        halves = (mx.float16, mx.bfloat16)
        prepared = Prepared(
            fn=fn,
            args=args,
            sync=sync,
            to_numpy=lambda out: np.array(out.astype(mx.float32) if out.dtype in halves else out),
            dtype_of=_dtype_name,
        )
        return self._warm_up(prepared, op, variant)  # compile (g++ JIT on CPU), kernel caches, allocator pools


def mlx_arrays(inputs: Arrays, dtype: str) -> tuple[Any, ...]:
    """The inputs as MLX arrays, float ones in ``dtype`` (lazily: evaluate them to materialize)."""
    import mlx.core as mx

    cast = getattr(mx, dtype)
    return tuple(mx.array(a).astype(cast) if a.dtype.kind == "f" else mx.array(a) for a in inputs.values())


def _dtype_name(out: Any) -> str:
    """``float16`` for an MLX ``mlx.core.float16`` or a torch ``torch.float16`` output."""
    return str(out.dtype).rpartition(".")[2]


def _no_sync(_out: Any) -> None:
    """torch CPU ops return only once their result is computed: nothing to wait for (so never called when timed)."""


_no_sync.does_nothing = True  # type: ignore[attr-defined]


def _cuda_sync(_out: Any) -> None:
    import torch

    torch.cuda.synchronize()


def _mps_sync(_out: Any) -> None:
    import torch

    torch.mps.synchronize()


class TorchBackend(Backend):
    """PyTorch on ``cpu``, ``cuda`` or ``mps``."""

    framework = "torch"

    def __init__(self, name: str, device: str, revision: int = 0) -> None:
        self.name, self.device, self.column = name, device, device  # the older tables' "cpu", "mps", "cuda"
        self.revision = revision

    def unavailable(self) -> str | None:
        if reason := versions.missing_by_install(self.framework):  # the timeline's install step said why
            return reason
        torch = versions.import_torch()
        if isinstance(torch, str):
            return torch
        if self.device == "cuda" and not torch.cuda.is_available():
            return "no CUDA device for torch (or a CPU-only torch build)"
        if self.device == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            return "no MPS device for torch (Apple Silicon macOS only)"
        return None

    def synchronizer(self) -> Callable[[Any], None]:
        return {"cuda": _cuda_sync, "mps": _mps_sync}.get(self.device, _no_sync)

    def device_peak_bytes(self, run: Callable[[], Any]) -> int | None:
        import torch

        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            run()
            return int(torch.cuda.max_memory_allocated())
        if self.device == "mps":
            run()
            return int(torch.mps.driver_allocated_memory())  # no resettable peak on MPS: the driver's total
        return None

    def prepare(self, op: Op, variant: Variant, inputs: Arrays) -> Prepared:
        self._check(op)
        import torch

        versions.pin_torch_threads()  # verification and timing compute with the series' thread count
        if self.device == "cuda":
            # TF32 would round float32 GEMM/conv inputs to 10 bits: not the function MLX computes.
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        if op.torch_layout is not None:
            inputs = op.torch_layout(inputs)
        dtype = getattr(torch, variant.dtype)
        args = tuple(torch_tensor(a, self.device, dtype if a.dtype.kind == "f" else None) for a in inputs.values())
        sync = self.synchronizer()
        sync(args)
        restore = op.torch_output or (lambda a: a)
        halves = (torch.float16, torch.bfloat16)
        prepared = Prepared(
            fn=_timed_function(self.framework, op.torch, variant.kwargs),
            args=args,
            sync=sync,
            to_numpy=lambda out: restore((out.float() if out.dtype in halves else out).detach().cpu().numpy()),
            dtype_of=_dtype_name,
        )
        return self._warm_up(prepared, op, variant)  # kernel selection, allocator caches


def torch_tensor(a: np.ndarray, device: str, dtype: Any = None) -> Any:
    """``a`` copied into torch's own allocator on ``device`` (``dtype`` for a float input, else its own).

    Always a copy, on the CPU too: ``from_numpy`` alone would leave the timed
    call reading numpy's buffer, aligned to 16 bytes where torch's allocator,
    which makes every tensor a model's op receives, aligns to 64
    (docs/measurements/torch-inputs-2026-12-06.md).
    """
    import torch

    return torch.from_numpy(a).to(device, dtype, copy=True)


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        MLXBackend("mlx_cpu", "cpu"),
        MLXBackend("mlx_cpu_compile", "cpu", compiled=True),
        MLXBackend("mlx_gpu", "gpu"),
        MLXBackend("mlx_gpu_compile", "gpu", compiled=True),
        TorchBackend("torch_cpu", "cpu", revision=1),  # 1: inputs in torch's allocator, not numpy's buffer
        TorchBackend("torch_mps", "mps"),
        TorchBackend("torch_cuda", "cuda"),
    )
}


def report_order(backends: Sequence[Backend]) -> list[Backend]:
    """The order of report columns, as in the older suite's tables: MLX GPU, MLX CPU, then PyTorch."""
    return sorted(backends, key=lambda b: (b.framework != "mlx", b.framework == "mlx" and not b.accelerated))


def speedup_pairs(backends: Sequence[Backend]) -> list[tuple[Backend, Backend]]:
    """(first, other) pairs whose ``first/other speedup`` reports show, in the older suite's order.

    GPU backends before CPU ones; within each: what compiling gains (compiled
    against its plain twin), MLX against PyTorch on the same kind of device,
    then (GPU only) the device against the same framework's CPU backend.
    """
    pairs: list[tuple[Backend, Backend]] = []
    for accelerated in (True, False):
        group = [b for b in backends if b.accelerated == accelerated]
        plain = [b for b in group if not b.compiled]
        pairs += [
            (c, p) for c in group if c.compiled for p in plain if (p.framework, p.device) == (c.framework, c.device)
        ]
        pairs += [(m, t) for m in plain if m.framework == "mlx" for t in plain if t.framework == "torch"]
        if accelerated:
            cpus = [b for b in backends if not b.accelerated and not b.compiled]
            pairs += [(g, c) for g in plain for c in cpus if c.framework == g.framework]
    return pairs
