"""Work per variant (bytes, FLOPs) and the default preset's 2 GB memory budget."""

from __future__ import annotations

import pytest

from mlxbench.catalog import CATALOG
from mlxbench.harness import work


def _variant(op: str, vid: str):
    return next(v for v in CATALOG[op].variants("default") if v.id == vid)


def test_every_default_variant_fits_the_memory_budget():
    over = {}
    for op in CATALOG.values():
        for v in op.variants("default"):
            w = work.of(op, v)
            if w.footprint > work.BUDGET_BYTES:
                over[f"{op.name} {v.id}"] = w.footprint
    assert not over, f"over the {work.BUDGET_BYTES / 2**30:.0f} GB budget: {over}"


def test_elementwise_bytes_are_one_read_and_one_write():
    w = work.of(CATALOG["ReLU"], _variant("ReLU", "16x128x1024"))
    n = 16 * 128 * 1024
    assert (w.in_bytes, w.out_bytes, w.flops) == (4 * n, 4 * n, n)


def test_matmul_flops_are_two_m_n_k_per_batch():
    w = work.of(CATALOG["MatMul"], _variant("MatMul", "4x1024x64_4x64x256"))
    assert w.flops == 2 * 4 * 1024 * 256 * 64
    assert w.out_bytes == 4 * 4 * 1024 * 256


def test_argmax_output_bytes_follow_the_frameworks_index_dtype():
    w = work.of(CATALOG["Argmax"], CATALOG["Argmax"].variants("tiny")[0])
    assert w.out_bytes == 6 * 5 * 4  # argmax over axis 0 of 4x6x5: uint32 indices in MLX


def test_data_movement_ops_declare_no_flops():
    for name in ("Concat", "Gather", "Scatter"):
        op = CATALOG[name]
        assert work.of(op, op.variants("tiny")[0]).flops == 0


@pytest.mark.parametrize("name", list(CATALOG))
def test_work_is_positive_for_every_op(name):
    op = CATALOG[name]
    w = work.of(op, op.variants("tiny")[-1])
    assert w.in_bytes > 0 and w.out_bytes > 0


def test_half_precision_moves_half_the_bytes():
    relu = CATALOG["ReLU"]
    f32 = work.of(relu, _variant("ReLU", "16x128x1024"))
    f16 = work.of(relu, next(v for v in relu.variants("models") if v.id == "16x128x1024-bfloat16"))
    assert (2 * f16.in_bytes, 2 * f16.out_bytes, f16.flops) == (f32.in_bytes, f32.out_bytes, f32.flops)
