"""Data movement: Concat, Gather and the Scatter family.

The scatters follow the message-passing pattern of the older suite: a node
table ``nodes`` (N, D) and edges (2, E); messages ``src = nodes[edges[0]]``
land on rows ``index = edges[1]`` of a zero table ``dst``. Both frameworks
scatter whole rows, out of place, with the same int64 indices, and the MLX
side returns the array its ``.at[...]`` expression produced.
"""

from __future__ import annotations

import numpy as np

from mlxbench.catalog.authoring import accumulating, exact, indices, presets, uniform, var
from mlxbench.catalog.frameworks import mx, torch
from mlxbench.catalog.spec import Arrays, Check, Op, Tolerance, Variant

TABLES = {"seed": [(64, 256), (1024, 32)], "default": [(64, 256), (1024, 32)], "tiny": [(5, 3), (9, 2)]}
NODES = {"seed": [(64, 16), (1024, 32)], "default": [(64, 16), (1024, 32)], "tiny": [(5, 3), (9, 2)]}
COUNTS = {"seed": [10, 1000, 1000000], "default": [10, 1000, 100000], "tiny": [1, 4, 50]}


def _gather_presets() -> dict[str, tuple[Variant, ...]]:
    return presets(**{p: [var(table=t, index=(m,)) for t in TABLES[p] for m in COUNTS[p]] for p in TABLES})


def _scatter_presets() -> dict[str, tuple[Variant, ...]]:
    return presets(**{p: [var(nodes=t, edges=(2, e)) for t in NODES[p] for e in COUNTS[p]] for p in NODES})


def _gather_inputs(v: Variant, rng: np.random.Generator) -> Arrays:
    table = v.shapes["table"]
    return {"table": uniform(rng, table), "index": indices(rng, table[0], v.shapes["index"][0])}


def _scatter_inputs(v: Variant, rng: np.random.Generator) -> Arrays:
    nodes = uniform(rng, v.shapes["nodes"])
    n, e = v.shapes["nodes"][0], v.shapes["edges"][1]
    edges = np.stack([indices(rng, n, e), indices(rng, n, e)])
    return {"dst": np.zeros_like(nodes), "index": edges[1], "src": nodes[edges[0]]}


def _mlx_scatter(dst, index, src):
    out = mx.array(dst)  # a new array object: assigning into it leaves dst intact
    out[index] = src
    return out


def _scatter_reference(dst: np.ndarray, index: np.ndarray, src: np.ndarray) -> np.ndarray:
    out = dst.copy()
    out[index] = src
    return out


def _scatter_compare(result: np.ndarray, reference: np.ndarray, inputs: Arrays, v: Variant, tol: Tolerance) -> Check:
    """Overwrite-scatter with repeated indices keeps *some* message per row.

    Which one wins is unspecified in both frameworks, so each targeted row must
    equal one of the messages sent to it and every other row must keep ``dst``.
    """
    index, src, dst = inputs["index"], inputs["src"].astype(np.float64), inputs["dst"]
    if result.shape != reference.shape:
        return Check(False, float("inf"), f"shape {result.shape} != {reference.shape}")
    per_edge = np.abs(result[index] - src).max(axis=1)
    best = np.full(result.shape[0], np.inf)
    np.minimum.at(best, index, per_edge)
    untouched = np.isinf(best)
    best[untouched] = np.abs(result[untouched] - dst[untouched]).max(axis=1, initial=0.0)
    err = float(best.max(initial=0.0))
    used = err / tol.atol if tol.atol else (0.0 if err == 0 else float("inf"))
    return Check(err <= tol.atol, err, "" if err <= tol.atol else "a row holds no message sent to it", used)


def _add_reference(dst: np.ndarray, index: np.ndarray, src: np.ndarray) -> np.ndarray:
    out = dst.copy()
    np.add.at(out, index, src)
    return out


def _max_reference(dst: np.ndarray, index: np.ndarray, src: np.ndarray) -> np.ndarray:
    out = dst.copy()
    np.maximum.at(out, index, src)
    return out


def _messages_per_row(v: Variant) -> int:
    # Accumulation length of ScatterSum: about E / N messages per row, more on unlucky rows.
    return 4 * v.shapes["edges"][1] // v.shapes["nodes"][0] + 1


OPS = [
    Op(
        name="Concat",
        presets=presets(
            seed=[
                var(a=(1000000, 64), b=(1000000, 32), axis=1),
                var(a=(1000000, 64), b=(1000000, 128), axis=1),
                var(a=(1000000, 64), b=(1000000, 64), axis=0),
                var(a=(64, 1000000), b=(64, 1000000), axis=0),
            ],
            default=[
                var(a=(16384, 64), b=(16384, 32), axis=1),
                var(a=(16384, 64), b=(16384, 128), axis=1),
                var(a=(16384, 64), b=(16384, 64), axis=0),
                var(a=(64, 16384), b=(64, 16384), axis=0),
            ],
            tiny=[var(a=(5, 4), b=(5, 2), axis=1), var(a=(3, 4), b=(2, 4), axis=0)],
        ),
        inputs=lambda v, rng: {"a": uniform(rng, v.shapes["a"]), "b": uniform(rng, v.shapes["b"])},
        mlx=lambda a, b, *, axis: mx.concatenate([a, b], axis=axis),
        torch=lambda a, b, *, axis: torch.cat([a, b], dim=axis),
        reference=lambda a, b, *, axis: np.concatenate([a, b], axis=axis),
        tolerance=exact,
    ),
    Op(
        name="Gather",
        presets=_gather_presets(),
        inputs=_gather_inputs,
        mlx=lambda table, index: mx.take(table, index, axis=0),
        torch=lambda table, index: torch.index_select(table, 0, index),
        reference=lambda table, index: table[index],
        tolerance=exact,
    ),
    Op(
        name="Scatter",
        presets=_scatter_presets(),
        inputs=_scatter_inputs,
        mlx=_mlx_scatter,
        torch=lambda dst, index, src: dst.index_put((index,), src),
        reference=_scatter_reference,
        tolerance=exact,
        compare=_scatter_compare,
    ),
    Op(
        name="ScatterSum",
        presets=_scatter_presets(),
        inputs=_scatter_inputs,
        mlx=lambda dst, index, src: dst.at[index].add(src),
        torch=lambda dst, index, src: dst.index_add(0, index, src),
        reference=_add_reference,
        tolerance=accumulating(_messages_per_row, scale=1.0),
        flops=lambda v, out: v.shapes["edges"][1] * v.shapes["nodes"][1],  # one add per message element
        mlx_requires=("array.at",),
    ),
    Op(
        name="ScatterMax",
        presets=_scatter_presets(),
        inputs=_scatter_inputs,
        mlx=lambda dst, index, src: dst.at[index].maximum(src),
        # index[:, None].expand_as(src) is a view: whole rows, no copy.
        torch=lambda dst, index, src: dst.scatter_reduce(0, index[:, None].expand_as(src), src, "amax"),
        reference=_max_reference,
        tolerance=exact,
        flops=lambda v, out: v.shapes["edges"][1] * v.shapes["nodes"][1],  # one compare per message element
        mlx_requires=("array.at",),
    ),
]
