"""Matrix products: MatMul and Linear (``x @ W + b``)."""

from __future__ import annotations

import numpy as np

from mlxbench.catalog.authoring import accumulating, presets, uniform, var
from mlxbench.catalog.frameworks import Chosen, F, mx, torch
from mlxbench.catalog.spec import Arrays, Op, Variant


def _uniform_all(v: Variant, rng: np.random.Generator) -> Arrays:
    return {name: uniform(rng, shape) for name, shape in v.shapes.items()}


@Chosen
def _mlx_linear():
    """One fused GEMM + bias where this MLX release has ``mx.addmm`` (as ``mlx.nn.Linear`` does), else ``x @ w + b``.

    Chosen once, in prepare: asked inside the op, the ``hasattr`` would run in every timed call.
    """
    if hasattr(mx, "addmm"):
        return lambda x, w, b: mx.addmm(b, x, w)
    return lambda x, w, b: x @ w + b


def _contraction(first: str):
    return lambda v: v.shapes[first][-1]


OPS = [
    Op(
        name="MatMul",
        presets=presets(
            seed=[
                var(a=(32, 1, 1000), b=(32, 1000, 128)),
                var(a=(1000, 64, 256), b=(256, 32)),
                var(a=(1000, 64, 1024), b=(1000, 1024, 32)),
                var(a=(1000, 1024, 64), b=(1000, 64, 256)),
                var(a=(64, 1000000), b=(1000000, 32)),
                var(a=(1000000, 64), b=(64, 1024)),
            ],
            default=[
                var(a=(32, 1, 1000), b=(32, 1000, 128)),
                var(a=(100, 64, 256), b=(256, 32)),
                var(a=(32, 64, 1024), b=(32, 1024, 32)),
                var(a=(4, 1024, 64), b=(4, 64, 256)),
                var(a=(64, 32768), b=(32768, 32)),
                var(a=(1024, 64), b=(64, 1024)),
            ],
            tiny=[
                var(a=(3, 1, 10), b=(3, 10, 4)),
                var(a=(5, 4, 6), b=(6, 3)),
                var(a=(4, 300), b=(300, 2)),
            ],
        ),
        inputs=_uniform_all,
        mlx=lambda a, b: mx.matmul(a, b),
        torch=lambda a, b: torch.matmul(a, b),
        reference=lambda a, b: np.matmul(a, b),
        tolerance=accumulating(_contraction("a"), scale=1.0),
        flops=lambda v, out: 2 * out * v.shapes["a"][-1],
    ),
    Op(
        name="Linear",
        # Shapes as the older suite listed them: weight is (in, out).
        presets=presets(
            seed=[
                var(x=(100, 1024, 32), weight=(32, 1024), bias=(1024,)),
                var(x=(100, 1024, 64), weight=(64, 1024), bias=(1024,)),
                var(x=(100, 1024, 256), weight=(256, 1024), bias=(1024,)),
                var(x=(100, 1024, 512), weight=(512, 1024), bias=(1024,)),
                var(x=(100, 1, 51200), weight=(51200, 1), bias=(1,)),
            ],
            default=[
                var(x=(4, 128, 32), weight=(32, 1024), bias=(1024,)),
                var(x=(4, 128, 64), weight=(64, 1024), bias=(1024,)),
                var(x=(2, 128, 256), weight=(256, 1024), bias=(1024,)),
                var(x=(2, 128, 512), weight=(512, 1024), bias=(1024,)),
                var(x=(16, 1, 51200), weight=(51200, 1), bias=(1,)),
            ],
            tiny=[
                var(x=(2, 3, 8), weight=(8, 5), bias=(5,)),
                var(x=(4, 1, 200), weight=(200, 1), bias=(1,)),
            ],
        ),
        inputs=_uniform_all,
        mlx=_mlx_linear,
        # F.linear wants (out, in): .mT is a free view, and F.linear folds the
        # transpose into one GEMM + bias, as mx.addmm does.
        torch=lambda x, w, b: F.linear(x, w.mT, b),
        reference=lambda x, w, b: x @ w + b,
        tolerance=accumulating(_contraction("x"), scale=1.0),
        flops=lambda v, out: out * (2 * v.shapes["x"][-1] + 1),  # GEMM plus the bias add
    ),
]
