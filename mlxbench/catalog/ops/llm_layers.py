"""The layers of a language model's block: RMSNorm, RoPE, GELU (exact and tanh), SiLU and the SwiGLU MLP.

Each is what a user of either framework writes: MLX's fused ``mx.fast`` kernels
(``rms_norm``, ``rope``) and ``mlx.nn`` activations against ``F.rms_norm`` (torch
2.4 on), the rotate-half RoPE of Hugging Face's Llama (a cos/sin cache sliced
at the position, kept in the model's dtype) and ``F.gelu`` / ``F.silu``. Sized
from :mod:`.llm_shapes`; the ``models`` preset only (and ``tiny``).
"""

from __future__ import annotations

import math

import numpy as np

from mlxbench.catalog.authoring import accumulating, elementwise, model_presets, own_rounding, uniform, var
from mlxbench.catalog.frameworks import Chosen, F, mnn, mx, torch
from mlxbench.catalog.ops.activations import activation
from mlxbench.catalog.ops.llm_shapes import (
    CONTEXT,
    DECODE_BATCHES,
    HEAD_DIM,
    HEADS,
    HIDDEN,
    INTERMEDIATE,
    PREFILL,
    ROPE_BASE,
)
from mlxbench.catalog.spec import FLOAT32_EPS, Arrays, Op, Tolerance, Variant

NORM_EPS = 1e-5
GELU_TANH_C = math.sqrt(2.0 / math.pi)


def _tokens(width: int) -> list[Variant]:
    """Decode (one token at each batch size) and one prefill, ``width`` features per token."""
    return [var(x=(b, 1, width)) for b in DECODE_BATCHES] + [var(x=(1, PREFILL, width))]


def _rms_inputs(v: Variant, rng: np.random.Generator) -> Arrays:
    return {"x": uniform(rng, v.shapes["x"], -2.0, 2.0), "weight": uniform(rng, v.shapes["x"][-1:], 0.5, 1.5)}


def _rms_reference(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + NORM_EPS) * weight


def _inverse_frequencies(dims: int) -> np.ndarray:
    return ROPE_BASE ** (-np.arange(0, dims, 2, dtype=np.float64) / dims)


def _rope_tables(inputs: Arrays) -> Arrays:
    """torch's side: the cos/sin cache of CONTEXT positions, as Llama keeps it (the backend rounds it to the dtype)."""
    dims = inputs["x"].shape[-1]
    angles = np.arange(CONTEXT, dtype=np.float64)[:, None] * _inverse_frequencies(dims)[None, :]
    angles = np.concatenate([angles, angles], axis=-1)
    return {**inputs, "cos": np.cos(angles).astype(np.float32), "sin": np.sin(angles).astype(np.float32)}


def _torch_rope(x, cos, sin, *, offset: int):
    length, half = x.shape[-2], x.shape[-1] // 2
    c, s = cos[offset : offset + length], sin[offset : offset + length]
    return x * c + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * s


def _rope_reference(x: np.ndarray, *, offset: int) -> np.ndarray:
    length, half = x.shape[-2], x.shape[-1] // 2
    angles = (offset + np.arange(length, dtype=np.float64))[:, None] * _inverse_frequencies(x.shape[-1])[None, :]
    cos, sin = np.cos(angles), np.sin(angles)
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def _rope_tolerance(v: Variant) -> Tolerance:
    """Angles up to CONTEXT radians computed in float32 (MLX) are off by a few float32 epsilons of the angle."""
    positions = v.kwargs["offset"] + v.shapes["x"][-2]
    rounding = own_rounding(v, 1e-5)
    return Tolerance(rtol=rounding, atol=rounding + 4 * FLOAT32_EPS * positions)


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x)


@Chosen
def _mlx_gelu_tanh():
    """``nn.gelu_approx`` where it is the tanh form (older releases approximated with a sigmoid: another function)."""
    probe = mnn.gelu_approx(mx.array([1.0])).item()  # tanh form 0.841192, the sigmoid form 0.841530
    if abs(probe - 0.5 * (1.0 + math.tanh(GELU_TANH_C * 1.044715))) > 1e-5:
        raise NotImplementedError(f"mlx {mx.__version__}: nn.gelu_approx is not the tanh approximation")
    return mnn.gelu_approx


def _swiglu_inputs(v: Variant, rng: np.random.Generator) -> Arrays:
    """Weights (in, out) drawn as a layer is initialized (+-1/sqrt(fan in)), so every stage stays O(1)."""
    arrays = {"x": uniform(rng, v.shapes["x"])}
    for name in ("w_gate", "w_up", "w_down"):
        fan_in = v.shapes[name][0]
        arrays[name] = uniform(rng, v.shapes[name], -(fan_in**-0.5), fan_in**-0.5)
    return arrays


def _swiglu_reference(x, w_gate, w_up, w_down):
    gate = x @ w_gate
    return (gate / (1.0 + np.exp(-gate)) * (x @ w_up)) @ w_down


def _swiglu(batch: int, hidden: int, intermediate: int) -> Variant:
    return var(
        x=(batch, 1, hidden), w_gate=(hidden, intermediate), w_up=(hidden, intermediate), w_down=(intermediate, hidden)
    )


def _activation(name: str, per_element: int, mlx, torch_fn, reference, requires: str, atol: float = 1e-6) -> Op:
    """An activation of the MLP, at its width (:data:`INTERMEDIATE`)."""
    shapes = model_presets(tiny=[var(x=(2, 3, 16)), var(x=(1, 5, 7))], models=_tokens(INTERMEDIATE))
    return activation(name, per_element, mlx, torch_fn, reference, shapes=shapes, atol=atol, mlx_requires=(requires,))


OPS = [
    Op(
        name="RMSNorm",
        presets=model_presets(tiny=[var(x=(2, 3, 16)), var(x=(1, 1, 33))], models=_tokens(HIDDEN)),
        inputs=_rms_inputs,
        mlx=lambda x, weight: mx.fast.rms_norm(x, weight, NORM_EPS),
        torch=lambda x, weight: F.rms_norm(x, x.shape[-1:], weight, NORM_EPS),
        reference=_rms_reference,
        tolerance=elementwise(rtol=1e-4, atol=1e-5),
        flops=lambda v, out: 4 * v.numel("x"),  # square, mean's add, scale, weight
        mlx_requires=("fast.rms_norm",),
        torch_requires=("nn.functional.rms_norm",),
    ),
    Op(
        name="RoPE",
        presets=model_presets(
            tiny=[var(x=(1, 2, 5, 8), offset=0), var(x=(2, 2, 1, 8), offset=CONTEXT - 1)],
            models=[var(x=(b, HEADS, 1, HEAD_DIM), offset=CONTEXT - 1) for b in DECODE_BATCHES]
            + [var(x=(1, HEADS, PREFILL, HEAD_DIM), offset=0)],
        ),
        inputs=lambda v, rng: {"x": uniform(rng, v.shapes["x"])},
        mlx=lambda x, *, offset: mx.fast.rope(
            x, x.shape[-1], traditional=False, base=ROPE_BASE, scale=1.0, offset=offset
        ),
        torch=_torch_rope,
        reference=_rope_reference,
        tolerance=_rope_tolerance,
        flops=lambda v, out: 3 * out,  # two products and a sum per element
        mlx_requires=("fast.rope",),
        torch_layout=_rope_tables,
    ),
    _activation(
        "GELU",
        5,
        lambda x: mnn.gelu(x),
        lambda x: F.gelu(x),
        lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
        "nn.gelu",
        atol=4e-6,  # torch's vectorized float32 erf: off by 1.3e-6 at x = -3.48 (7.3M values of the models preset)
    ),
    _activation(
        "GELUTanh",
        8,
        _mlx_gelu_tanh,
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: 0.5 * x * (1.0 + np.tanh(GELU_TANH_C * (x + 0.044715 * x**3))),
        "nn.gelu_approx",
    ),
    _activation("SiLU", 4, lambda x: mnn.silu(x), lambda x: F.silu(x), lambda x: x / (1.0 + np.exp(-x)), "nn.silu"),
    Op(
        name="SwiGLU",
        presets=model_presets(
            tiny=[_swiglu(1, 16, 40), _swiglu(3, 16, 40)],
            models=[_swiglu(b, HIDDEN, INTERMEDIATE) for b in DECODE_BATCHES],
        ),
        inputs=_swiglu_inputs,
        mlx=lambda x, w_gate, w_up, w_down: (mnn.silu(x @ w_gate) * (x @ w_up)) @ w_down,
        torch=lambda x, w_gate, w_up, w_down: (F.silu(x @ w_gate) * (x @ w_up)) @ w_down,
        reference=_swiglu_reference,
        # one term of the down projection: an O(0.1) activation times a weight of about 0.6/sqrt(fan in)
        tolerance=accumulating(lambda v: v.shapes["w_down"][0], scale=lambda v: 0.06 * v.shapes["w_down"][0] ** -0.5),
        flops=lambda v, out: 2 * 3 * math.prod(v.shapes["x"]) * v.shapes["w_gate"][1],  # three GEMMs
        mlx_requires=("nn.silu",),
    ),
]
