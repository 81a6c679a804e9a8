"""Machine ceilings: the bandwidth and compute each backend reaches at best.

``mlxbench calibrate`` times, per available backend, a large elementwise
negation (every byte read once and written once: the bandwidth ceiling) and a
large float32 matmul (the compute ceiling), and appends them to
``results/<machine>/ceilings.jsonl`` (:mod:`mlxbench.store.ceilings`) next to that machine's ASV results (the
suffix keeps ASV from reading it as a result file). Reports divide each op's
achieved rate by the nearer ceiling: the roofline %.

The ceilings are what the backend reaches, not what the silicon could: MLX on
Linux CPU runs single-threaded with a reference BLAS, so its compute ceiling is
that BLAS's, and a 100% there means "as fast as this MLX build's own GEMM".
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlxbench.harness import versions
from mlxbench.harness.backends import Backend, MLXBackend

COPY_ELEMENTS = (2**18, 2**20, 2**22, 2**24, 2**25)
"""float32 elements per copy: 1 MB (cache) to 128 MB (far beyond any cache, inside the 2 GB budget).

Bandwidth depends on where the data lives: an op whose inputs and output fit in
the last-level cache runs above DRAM bandwidth, so each op is held against the
bandwidth measured at the smallest calibrated size that holds its bytes."""
MIN_CALL_SECONDS = 0.2


@dataclass(frozen=True)
class Ceiling:
    backend: str
    bandwidth_gbs: dict[str, float]
    """Bytes moved by one copy (read + write, as a string: JSON keys) -> GB/s."""
    gflops: float
    matmul_n: int
    mlx: str | None
    torch: str | None
    measured_at: str

    @property
    def dram_gbs(self) -> float:
        """Bandwidth of the largest copy: main memory."""
        return self.bandwidth_gbs[max(self.bandwidth_gbs, key=int)]

    def bandwidth_for(self, nbytes: float) -> float:
        """GB/s at the smallest calibrated copy that moves at least ``nbytes`` (DRAM beyond the largest)."""
        sizes = sorted(self.bandwidth_gbs, key=int)
        fitting = [s for s in sizes if int(s) >= nbytes]
        return self.bandwidth_gbs[fitting[0] if fitting else sizes[-1]]

    def roofline_seconds(self, nbytes: float, flops: float) -> tuple[float, str]:
        """The fastest a call moving ``nbytes`` and doing ``flops`` can be here, and what bounds it."""
        memory = nbytes / (self.bandwidth_for(nbytes) * 1e9)
        compute = flops / (self.gflops * 1e9)
        return (memory, "memory") if memory >= compute else (compute, "compute")


def _best_seconds(call: Callable[[], None], repeats: int) -> float:
    call()  # warm-up: allocation, kernels, JIT
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def _framework(backend: Backend):
    """(to_device, negate, matmul, sync) for the backend's framework and device."""
    sync = backend.synchronizer()
    if isinstance(backend, MLXBackend):
        import mlx.core as mx

        mx.set_default_device(mx.gpu if backend.device == "gpu" else mx.cpu)

        def to_device(a: np.ndarray):
            out = mx.array(a)
            mx.eval(out)
            return out

        return to_device, mx.negative, mx.matmul, sync
    import torch

    return (lambda a: torch.from_numpy(a).to(backend.device)), torch.neg, torch.matmul, sync


def measure(backend: Backend, repeats: int = 5) -> Ceiling:
    """Time the copies and the matmul on ``backend``; the matmul grows until one call takes 0.2 s."""
    to_device, negate, matmul, sync = _framework(backend)
    rng = np.random.default_rng(0)
    bandwidth: dict[str, float] = {}
    for elements in COPY_ELEMENTS:
        x = to_device(rng.standard_normal(elements, dtype=np.float32))
        copy = functools.partial(lambda a: sync(negate(a)), x)
        seconds = _best_seconds(copy, repeats * max(1, 2**22 // elements))  # small copies: more repeats
        bandwidth[str(8 * elements)] = 8 * elements / seconds / 1e9  # 4 bytes read + 4 written each
    n, seconds = 256, 0.0
    while True:
        a = to_device(rng.standard_normal((n, n), dtype=np.float32))
        b = to_device(rng.standard_normal((n, n), dtype=np.float32))
        seconds = _best_seconds(functools.partial(lambda a, b: sync(matmul(a, b)), a, b), repeats if n >= 1024 else 2)
        if seconds >= MIN_CALL_SECONDS or n >= 4096:
            break
        n *= 2
    return Ceiling(
        backend=backend.name,
        bandwidth_gbs=bandwidth,
        gflops=2 * n**3 / seconds / 1e9,
        matmul_n=n,
        mlx=versions.mlx_version(),
        torch=versions.torch_version(),
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
