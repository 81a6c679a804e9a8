"""The catalog's shape: all ops, every preset, the older suite's exact shapes."""

from __future__ import annotations

import numpy as np
import pytest

from mlxbench.catalog import CATALOG, PRESETS

OLDER_SUITE_OPS = {
    "Argmax",
    "BCE",
    "Concat",
    "Conv1d",
    "Conv2d",
    "Gather",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "MatMul",
    "PReLU",
    "ReLU",
    "ScaledDotProductAttention",
    "Scatter",
    "ScatterSum",
    "ScatterMax",
    "SeLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Sort",
    "Sum",
    "SumAll",
}

# The older suite's variants, transcribed from its source: (shapes..., params).
ACT = [((128, 16, 1024),), ((64, 128, 1024),)]
SCATTER = [((n, d), (2, e)) for n, d in [(64, 16), (1024, 32)] for e in (10, 1000, 1000000)]
SEED = {
    "Argmax": [((64, 1024, 128), {"axis": a}) for a in (0, 1, 2)] + [((64, 128, 1024), {"axis": 2})],
    "BCE": [((1000000,),), ((100000, 32),), ((100000, 64, 2),), ((128, 100000),)],
    "Concat": [
        ((1000000, 64), (1000000, 32), {"axis": 1}),
        ((1000000, 64), (1000000, 128), {"axis": 1}),
        ((1000000, 64), (1000000, 64), {"axis": 0}),
        ((64, 1000000), (64, 1000000), {"axis": 0}),
    ],
    "Conv1d": [
        ((100, 256, 3), (8, 3, 3)),
        ((100, 256, 256), (8, 3, 256)),
        ((16, 1000, 80), (128, 11, 80)),
        ((16, 1000, 3), (128, 11, 3)),
    ],
    "Conv2d": [
        ((100, 256, 256, 3), (8, 3, 3, 3)),
        ((10, 256, 256, 12), (8, 3, 3, 12)),
        ((1, 256, 256, 128), (8, 3, 3, 128)),
        ((100, 28, 28, 3), (8, 3, 3, 3)),
        ((1000, 28, 28, 3), (8, 3, 3, 3)),
    ],
    "Gather": [((t, d), (m,)) for t, d in [(64, 256), (1024, 32)] for m in (10, 1000, 1000000)],
    "LayerNorm": [((64, 128, 1024),), ((128, 64, 1024),)],
    "LeakyReLU": ACT,
    "ReLU": ACT,
    "SeLU": ACT,
    "Sigmoid": ACT,
    "Softplus": ACT,
    "PReLU": ACT,
    "Linear": [
        ((100, 1024, 32), (32, 1024), (1024,)),
        ((100, 1024, 64), (64, 1024), (1024,)),
        ((100, 1024, 256), (256, 1024), (1024,)),
        ((100, 1024, 512), (512, 1024), (1024,)),
        ((100, 1, 51200), (51200, 1), (1,)),
    ],
    "MatMul": [
        ((32, 1, 1000), (32, 1000, 128)),
        ((1000, 64, 256), (256, 32)),
        ((1000, 64, 1024), (1000, 1024, 32)),
        ((1000, 1024, 64), (1000, 64, 256)),
        ((64, 1000000), (1000000, 32)),
        ((1000000, 64), (64, 1024)),
    ],
    "ScaledDotProductAttention": [
        ((64, 8, 16, 1024),) * 3,
        ((64, 8, 16, 1024), (64, 8, 64, 1024), (64, 8, 64, 1024)),
        ((64, 16, 16, 1024),) * 3,
        ((64, 16, 16, 1024), (64, 16, 64, 1024), (64, 16, 64, 1024)),
    ],
    "Scatter": SCATTER,
    "ScatterSum": SCATTER,
    "ScatterMax": SCATTER,
    "Softmax": [
        (s, {"axis": -1})
        for s in [
            (64, 1000000),
            (1000000, 64),
            (64, 16, 32, 1024),
            (128, 16, 32, 1024),
            (1024, 16, 32, 128),
            (1024, 64, 32, 8),
        ]
    ],
    "Sort": [((64, 128, 1024), {"axis": a}) for a in (0, 1, 2)],
    "Sum": [((64, 128, 128, 128), {"axis": a}) for a in (0, 1, 2, 3)],
    "SumAll": [((64, 128, 128, 128),), ((1000000,),), ((1000000, 128),), ((128, 1000000),)],
}


def _key(entry: tuple) -> tuple:
    params = entry[-1] if isinstance(entry[-1], dict) else {}
    shapes = tuple(s for s in entry if not isinstance(s, dict))
    return shapes, tuple(sorted(params.items()))


def test_catalog_has_every_op_of_the_older_suite_and_the_rest_only_in_models():
    assert set(CATALOG) >= OLDER_SUITE_OPS
    for name in set(CATALOG) - OLDER_SUITE_OPS:  # the ops of today's models: not in the default history
        assert not CATALOG[name].variants("default") and not CATALOG[name].variants("seed"), name


@pytest.mark.parametrize("preset", PRESETS)
def test_every_op_has_variants_with_unique_ids(preset):
    for op in CATALOG.values():
        ids = [v.id for v in op.variants(preset)]
        assert ids or (preset in ("default", "seed") and op.name not in OLDER_SUITE_OPS), f"{op.name}: no {preset}"
        assert len(ids) == len(set(ids)), f"{op.name} {preset} repeats an id: {ids}"


@pytest.mark.parametrize("name", sorted(SEED))
def test_seed_preset_holds_exactly_the_older_suites_shapes(name):
    op = CATALOG[name]
    expected = sorted({_key(e) for e in SEED[name]})
    # Masking is a variant axis of ours, not a shape: compare shapes and shape-defining params.
    actual = sorted(
        {
            (tuple(v.shapes.values()), tuple(sorted((k, p) for k, p in v.params.items() if k == "axis")))
            for v in op.variants("seed")
        }
    )
    assert actual == expected


def test_seed_attention_has_a_causal_variant_for_every_shape():
    variants = CATALOG["ScaledDotProductAttention"].variants("seed")
    for shape in {tuple(v.shapes.values()) for v in variants}:
        maskings = {v.options["masking"] for v in variants if tuple(v.shapes.values()) == shape}
        assert maskings == {"none", "causal"}


def test_variant_id_reads_like_shapes_and_axis():
    ids = [v.id for v in CATALOG["Argmax"].variants("seed")]
    assert "64x128x1024-axis2" in ids and "64x1024x128-axis0" in ids


@pytest.mark.parametrize("name", sorted(OLDER_SUITE_OPS))
def test_inputs_are_deterministic_and_match_declared_shapes(name):
    op = CATALOG[name]
    variant = op.variants("tiny")[-1]
    a, b = op.make_inputs(variant, seed=3), op.make_inputs(variant, seed=3)
    other = op.make_inputs(variant, seed=4)
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key])
        assert a[key].dtype in (np.float32, np.int64)
    assert any(not np.array_equal(a[k], other[k]) for k in a), "seed does not change the data"
    for key, shape in variant.shapes.items():
        if key in a:
            assert a[key].shape == shape


def test_default_preset_is_smaller_than_seed():
    def biggest(op, preset):
        return max(sum(v.numel(k) for k in v.shapes) for v in op.variants(preset))

    for name in OLDER_SUITE_OPS:
        assert biggest(CATALOG[name], "default") <= biggest(CATALOG[name], "seed"), name


def test_ops_listed_as_compiled_by_mlx_nn_are_exactly_those_calling_a_compiled_mlx_nn_function(monkeypatch):
    """The catalog's note (and the report's) must match what the installed MLX (>= 0.4.0) really runs."""
    import mlx.core as mx
    import mlx.nn as nn

    from mlxbench.catalog import frameworks
    from mlxbench.catalog.ops.activations import COMPILED_BY_MLX_NN

    frameworks.load("mlx")
    compiled_type = type(mx.compile(lambda x: x))
    reached: list[str] = []
    for name in dir(nn):
        fn = getattr(nn, name)
        if isinstance(fn, compiled_type):
            monkeypatch.setattr(nn, name, lambda *a, _fn=fn, _name=name, **k: (reached.append(_name), _fn(*a, **k))[1])
    found = set()
    for op in CATALOG.values():
        v = op.variants("tiny")[0]
        reached.clear()
        frameworks.resolve(op.mlx)(*(mx.array(a) for a in op.make_inputs(v).values()), **v.kwargs)
        if reached:
            found.add(op.name)
    assert found == set(COMPILED_BY_MLX_NN)
