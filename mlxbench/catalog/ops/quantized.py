"""QuantizedMatmul: MLX's affine 4- and 8-bit weights against torch's dense matmul of the same weights, dequantized.

The weight is a (N, K) projection (Llama 3 8B's key projection, 4096 -> 1024)
quantized in groups of ``group`` along K: ``w = scale * q + bias`` per group,
``q`` packed into uint32 words low bits first, MLX's own layout (the inputs
are built here, with numpy, so both sides and the reference start from the
very same codes, scales and biases). MLX runs ``mx.quantized_matmul``; torch,
with no 4/8-bit CPU kernel taking this format, runs ``F.linear`` on the
dequantized weight in the variant's dtype: **a dense matmul of the dequantized
weights**, named as such in reports. The reference is the float64 product with
the float64 dequantized weight.

The grid (bits x group x batch) runs in bfloat16, the dtype people quantize
from; float16 and float32 at group 64 and batches 1 and 8 (MLX's CPU float16
kernel takes about 4 s at batch 32 here).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from mlxbench.catalog.authoring import accumulating, in_dtypes, uniform, var
from mlxbench.catalog.frameworks import F, mx
from mlxbench.catalog.ops.llm_shapes import HEAD_DIM, HIDDEN, KV_HEADS, SMALL_BATCH
from mlxbench.catalog.spec import Arrays, Op, Variant

WORD_BITS = 32
OUT_FEATURES = KV_HEADS * HEAD_DIM


def quantize(w: np.ndarray, bits: int, group: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(packed uint32 codes, scales, biases) of ``w`` (N, K), affine per group of ``group`` along K."""
    n, k = w.shape
    grouped = w.reshape(n, k // group, group).astype(np.float64)
    low, high = grouped.min(axis=-1), grouped.max(axis=-1)
    levels = 2**bits - 1
    scales = np.where(high > low, (high - low) / levels, 1.0)
    codes = np.clip(np.rint((grouped - low[..., None]) / scales[..., None]), 0, levels).astype(np.uint32)
    per_word = WORD_BITS // bits
    codes = codes.reshape(n, k // per_word, per_word)
    packed = np.zeros((n, k // per_word), dtype=np.uint32)
    for j in range(per_word):
        packed |= codes[..., j] << np.uint32(bits * j)
    return packed, scales.astype(np.float32), low.astype(np.float32)


def dequantize(packed: np.ndarray, scales: np.ndarray, biases: np.ndarray, k: int) -> np.ndarray:
    """The (N, K) weight the codes stand for, in float64; bits and group size follow from the shapes."""
    n, words = packed.shape
    bits = WORD_BITS * words // k
    per_word = WORD_BITS // bits
    mask = np.uint32(2**bits - 1)
    codes = np.stack([(packed >> np.uint32(bits * j)) & mask for j in range(per_word)], axis=-1).reshape(n, k)
    group = k // scales.shape[-1]
    scale = np.repeat(scales.astype(np.float64), group, axis=-1)
    return codes * scale + np.repeat(biases.astype(np.float64), group, axis=-1)


def _inputs(v: Variant, rng: np.random.Generator) -> Arrays:
    """x and the quantized weight; scales and biases are then rounded to the dtype, like the inputs."""
    k = v.shapes["x"][-1]
    weight = uniform(rng, (v.options["out"], k), -(k**-0.5), k**-0.5)
    packed, scales, biases = quantize(weight, v.options["bits"], v.options["group"])
    return {"x": uniform(rng, v.shapes["x"]), "packed": packed, "scales": scales, "biases": biases}


def _dense(inputs: Arrays) -> Arrays:
    """torch's side: the dequantized (N, K) weight (the backend casts it to the dtype, as a model would hold it)."""
    x = inputs["x"]
    weight = dequantize(inputs["packed"], inputs["scales"], inputs["biases"], x.shape[-1])
    return {"x": x, "weight": weight.astype(np.float32)}


def _mlx_quantized(x, packed, scales, biases):
    k = x.shape[-1]
    bits = WORD_BITS * packed.shape[-1] // k
    return mx.quantized_matmul(x, packed, scales, biases, transpose=True, group_size=k // scales.shape[-1], bits=bits)


def _variant(batch: int, bits: int, group: int, k: int = HIDDEN, out: int = OUT_FEATURES) -> Variant:
    return var(x=(batch, k), options={"bits": bits, "group": group, "out": out})


GRID = [_variant(b, bits, g) for bits, g, b in itertools.product((4, 8), (32, 64, 128), (1, SMALL_BATCH, 32))]
OTHER_DTYPES = [_variant(b, bits, 64) for bits, b in itertools.product((4, 8), (1, SMALL_BATCH))]

OPS = [
    Op(
        name="QuantizedMatmul",
        presets={
            "seed": (),
            "default": (),
            "tiny": in_dtypes([_variant(1, 4, 32, k=64, out=8), _variant(3, 8, 32, k=64, out=8)]),
            "models": in_dtypes(OTHER_DTYPES, ("float32", "float16"))
            + tuple(dataclasses.replace(v, dtype="bfloat16") for v in GRID),
        },
        inputs=_inputs,
        mlx=_mlx_quantized,
        torch=lambda x, weight: F.linear(x, weight),
        reference=lambda x, packed, scales, biases: x @ dequantize(packed, scales, biases, x.shape[-1]).T,
        # one term: x (about 0.6) times a weight of about 0.6/sqrt(K)
        tolerance=accumulating(lambda v: v.shapes["x"][-1], scale=lambda v: 0.36 * v.shapes["x"][-1] ** -0.5),
        flops=lambda v, out: 2 * out * v.shapes["x"][-1],
        mlx_requires=("quantized_matmul",),
        torch_layout=_dense,
    ),
]
