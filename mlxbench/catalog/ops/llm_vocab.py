"""The ops over a language model's vocabulary: embedding lookup, top-k, logsumexp and cross-entropy.

Logits are (tokens, VOCAB) (Llama 3's 128k vocabulary): one decode step, a
small batch of them, or a prefill's every position. The embedding table is
Mistral 7B's (32000 x 4096, 0.5 GB in float32): Llama 3's 2 GB table, held
five times over in verification (float32, its rounding, float64 for the
reference, each framework's copy), would not fit a laptop. ``mx.topk`` leaves
its k values unordered and ``torch.topk`` sorts them, so top-k is compared as
a sorted set, exactly.
"""

from __future__ import annotations

import numpy as np

from mlxbench.catalog.authoring import accumulating, exact, indices, model_presets, uniform, var
from mlxbench.catalog.frameworks import F, mnn, mx, torch
from mlxbench.catalog.ops.llm_shapes import HIDDEN, PREFILL, SMALL_BATCH, VOCAB
from mlxbench.catalog.spec import Arrays, Check, Op, Tolerance, Variant

EMBEDDING_VOCAB = 32000
TOP_K = 50


def _logits(v: Variant, rng: np.random.Generator) -> Arrays:
    return {"logits": uniform(rng, v.shapes["logits"], -4.0, 4.0)}


def _labelled(v: Variant, rng: np.random.Generator) -> Arrays:
    tokens, vocab = v.shapes["logits"]
    return {**_logits(v, rng), "targets": indices(rng, vocab, tokens)}


def _logsumexp(logits: np.ndarray) -> np.ndarray:
    top = logits.max(axis=-1, keepdims=True)
    return (top + np.log(np.exp(logits - top).sum(axis=-1, keepdims=True)))[..., 0]


def _cross_entropy(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return np.mean(_logsumexp(logits) - logits[np.arange(len(targets)), targets])


def _as_sorted_set(result: np.ndarray, reference: np.ndarray, inputs: Arrays, v: Variant, tol: Tolerance) -> Check:
    """Top-k values as a set: both sorted along the last axis, then equal exactly."""
    if result.shape != reference.shape:
        return Check(False, float("inf"), f"shape {result.shape} != reference {reference.shape}")
    diff = np.abs(np.sort(result, axis=-1).astype(np.float64) - np.sort(reference, axis=-1))
    err = float(diff.max(initial=0.0))
    ok = bool(err == 0.0)
    return Check(
        ok, err, "" if ok else f"other top-{TOP_K} values (max |error| {err:.2e})", 0.0 if ok else float("inf")
    )


def _logit_rows(*rows: int) -> list[Variant]:
    return [var(logits=(n, VOCAB)) for n in rows]


OPS = [
    Op(
        name="Embedding",
        presets=model_presets(
            tiny=[var(table=(50, 8), ids=(1,)), var(table=(50, 8), ids=(7,))],
            models=[var(table=(EMBEDDING_VOCAB, HIDDEN), ids=(n,)) for n in (1, SMALL_BATCH, PREFILL)],
        ),
        inputs=lambda v, rng: {
            "table": uniform(rng, v.shapes["table"]),
            "ids": indices(rng, v.shapes["table"][0], v.shapes["ids"][0]),
        },
        mlx=lambda table, ids: table[ids],  # mlx.nn.Embedding's own call
        torch=lambda table, ids: F.embedding(ids, table),
        reference=lambda table, ids: table[ids],
        tolerance=exact,
    ),
    Op(
        name="TopK",
        presets=model_presets(
            tiny=[var(logits=(1, 300), k=5), var(logits=(3, 200), k=7)],
            models=[var(logits=(n, VOCAB), k=TOP_K) for n in (1, SMALL_BATCH)],
        ),
        inputs=_logits,
        mlx=lambda logits, *, k: mx.topk(logits, k, axis=-1),
        torch=lambda logits, *, k: torch.topk(logits, k, dim=-1).values,
        reference=lambda logits, *, k: np.sort(logits, axis=-1)[..., -k:],
        tolerance=exact,
        compare=_as_sorted_set,
        flops=lambda v, out: np.prod(v.shapes["logits"]),  # one compare per logit
        mlx_requires=("topk",),
    ),
    Op(
        name="LogSumExp",
        presets=model_presets(
            tiny=[var(logits=(1, 300)), var(logits=(3, 200))], models=_logit_rows(1, SMALL_BATCH, PREFILL)
        ),
        inputs=_logits,
        mlx=lambda logits: mx.logsumexp(logits, axis=-1),
        torch=lambda logits: torch.logsumexp(logits, dim=-1),
        reference=_logsumexp,
        tolerance=accumulating(lambda v: v.shapes["logits"][-1]),
        flops=lambda v, out: 4 * np.prod(v.shapes["logits"]),  # max, subtract, exp, add
        mlx_requires=("logsumexp",),
    ),
    Op(
        name="CrossEntropy",
        presets=model_presets(
            tiny=[var(logits=(1, 300)), var(logits=(4, 200))], models=_logit_rows(SMALL_BATCH, PREFILL)
        ),
        inputs=_labelled,
        mlx=lambda logits, targets: mnn.losses.cross_entropy(logits, targets, reduction="mean"),
        torch=lambda logits, targets: F.cross_entropy(logits, targets),
        reference=_cross_entropy,
        tolerance=accumulating(lambda v: v.shapes["logits"][-1]),
        flops=lambda v, out: 5 * np.prod(v.shapes["logits"]),  # logsumexp, the target's pick, the mean
        mlx_requires=("nn.losses.cross_entropy",),
    ),
]
