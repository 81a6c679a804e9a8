"""Elementwise activations: ReLU, LeakyReLU, PReLU, SeLU, Sigmoid, Softplus.

Each is the call a user of either framework would write: ``mlx.nn``'s function
(``mx.sigmoid`` for Sigmoid, MLX's own op) against ``torch.relu`` /
``torch.sigmoid`` or ``torch.nn.functional``'s.

Since MLX 0.4.0, ``mlx.nn``'s ``relu``, ``leaky_relu``, ``prelu``, ``selu`` and
``softplus`` are ``mx.compile(shapeless=True)``-decorated (0.3.0's are plain
functions). So from 0.4.0 on, "uncompiled" mlx_cpu/mlx_gpu ReLU, LeakyReLU,
PReLU, SeLU and Softplus already run MLX-compiled (fused) code: their history
has a step at 0.4.0 that is no kernel change, and their ``mlx_*_compile/mlx_*``
speedup compares compiled with compiled (about 0%). Sigmoid is ``mx.sigmoid``,
a single primitive, compiled only by the ``*_compile`` backends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mlxbench.catalog.authoring import elementwise, presets, uniform, var
from mlxbench.catalog.frameworks import F, mnn, mx, torch
from mlxbench.catalog.spec import Arrays, Op, Variant

LEAKY_SLOPE = 0.01
PRELU_ALPHA = 0.25
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

COMPILED_BY_MLX_NN = ("ReLU", "LeakyReLU", "PReLU", "SeLU", "Softplus", "GELU", "GELUTanh", "SiLU", "SwiGLU")
"""Ops whose MLX side is an ``mlx.nn`` function that MLX itself compiles, since :data:`COMPILED_SINCE` (the
last four, of the ``models`` preset, call ``nn.gelu``, ``nn.gelu_approx`` and ``nn.silu``)."""
COMPILED_SINCE = "0.4.0"

SHAPES = presets(
    seed=[var(x=(128, 16, 1024)), var(x=(64, 128, 1024))],
    default=[var(x=(32, 16, 1024)), var(x=(16, 128, 1024))],
    tiny=[var(x=(4, 3, 8)), var(x=(2, 5, 7))],
)


def _x(v: Variant, rng: np.random.Generator) -> Arrays:
    # [-4, 4] covers both branches of every activation and sigmoid's tails.
    return {"x": uniform(rng, v.shapes["x"], -4.0, 4.0)}


def _prelu_inputs(v: Variant, rng: np.random.Generator) -> Arrays:
    return {**_x(v, rng), "alpha": np.full((1,), PRELU_ALPHA, dtype=np.float32)}


def activation(
    name: str,
    per_element: int,
    mlx,
    torch_fn,
    reference,
    *,
    inputs=_x,
    shapes: Mapping[str, Sequence[Variant]] = SHAPES,
    atol: float = 1e-6,
    mlx_requires: tuple[str, ...] = (),
) -> Op:
    """An elementwise activation on x in [-4, 4]: ``per_element`` FLOPs per output, float32 rtol 1e-5."""
    return Op(
        name=name,
        presets=shapes,
        inputs=inputs,
        mlx=mlx,
        torch=torch_fn,
        reference=reference,
        tolerance=elementwise(rtol=1e-5, atol=atol),
        flops=lambda v, out: per_element * out,
        mlx_requires=mlx_requires,
    )


OPS = [
    activation("ReLU", 1, lambda x: mnn.relu(x), lambda x: torch.relu(x), lambda x: np.maximum(x, 0.0)),
    activation(
        "LeakyReLU",
        3,
        lambda x: mnn.leaky_relu(x, negative_slope=LEAKY_SLOPE),
        lambda x: F.leaky_relu(x, negative_slope=LEAKY_SLOPE),
        lambda x: np.where(x > 0, x, LEAKY_SLOPE * x),
    ),
    activation(
        "PReLU",
        3,
        lambda x, alpha: mnn.prelu(x, alpha),
        lambda x, alpha: F.prelu(x, alpha),
        lambda x, alpha: np.where(x > 0, x, alpha * x),
        inputs=_prelu_inputs,
    ),
    activation(
        "SeLU",
        6,
        lambda x: mnn.selu(x),
        lambda x: F.selu(x),
        lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
    ),
    activation("Sigmoid", 4, lambda x: mx.sigmoid(x), lambda x: torch.sigmoid(x), lambda x: 1.0 / (1.0 + np.exp(-x))),
    activation(
        "Softplus",
        4,
        lambda x: mnn.softplus(x),
        lambda x: F.softplus(x),
        lambda x: np.logaddexp(0.0, x),
    ),
]
