"""BCE: mean binary cross-entropy on logits, on both sides.

``mlx.nn.losses.binary_cross_entropy`` takes logits by default (every release);
``torch.nn.functional.binary_cross_entropy`` takes probabilities. The older
suite fed one array to both and so compared two different functions. Here both
sides take logits: MLX's default and ``binary_cross_entropy_with_logits``.
"""

from __future__ import annotations

import numpy as np

from mlxbench.catalog.authoring import accumulating, presets, uniform, var
from mlxbench.catalog.frameworks import F, mnn
from mlxbench.catalog.spec import Arrays, Op, Variant


def _inputs(v: Variant, rng: np.random.Generator) -> Arrays:
    shape = v.shapes["x"]
    return {
        "logits": uniform(rng, shape, -4.0, 4.0),
        "targets": rng.integers(0, 2, size=shape).astype(np.float32),
    }


def _reference(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return np.mean(np.logaddexp(0.0, logits) - logits * targets)


OPS = [
    Op(
        name="BCE",
        presets=presets(
            seed=[var(x=s) for s in [(1000000,), (100000, 32), (100000, 64, 2), (128, 100000)]],
            default=[var(x=s) for s in [(1000000,), (16384, 32), (8192, 64, 2), (32, 16384)]],
            tiny=[var(x=s) for s in [(64,), (8, 4), (3, 4, 2)]],
        ),
        inputs=_inputs,
        mlx=lambda logits, targets: mnn.losses.binary_cross_entropy(logits, targets, reduction="mean"),
        torch=lambda logits, targets: F.binary_cross_entropy_with_logits(logits, targets),
        reference=_reference,
        tolerance=accumulating(lambda v: v.numel("x")),
        # softplus (max, abs, exp, add, log), multiply, subtract, mean's add
        flops=lambda v, out: 8 * v.numel("x"),
    ),
]
