"""The dtype axis and the ops of today's models: rounding, ids, n/a reasons, planted bugs, and reports by dtype.

Every planted bug is one a benchmark could ship: a side that upcasts to
float32 (it times another function), a dropped attention scale, a RoPE that
ignores its position, a dequantization without its biases. Each must fail
verification on the side it is planted in, and the untouched side must pass.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mlxbench.catalog import CATALOG, VARIANTS
from mlxbench.catalog.authoring import var
from mlxbench.catalog.frameworks import F, mx, torch
from mlxbench.catalog.ops import quantized
from mlxbench.catalog.ops.llm_shapes import CONTEXT
from mlxbench.catalog.spec import DTYPES, Variant, dtype_of, round_to
from mlxbench.harness.backends import BACKENDS
from mlxbench.harness.verify import check_variant
from mlxbench.report.tables import Report
from mlxbench.stack import releases, timeline
from mlxbench.store import results

CPU = [BACKENDS["mlx_cpu"], BACKENDS["torch_cpu"]]
FIXTURE = Path(__file__).parent / "fixtures" / "results"


def test_rounding_matches_the_frameworks_own_casts():
    """float16 as numpy casts, bfloat16 as torch casts (nearest, ties to even), held exactly in float32."""
    import torch as real_torch

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 100, 10_000), [1 + 2**-8, 1 + 3 * 2**-8, -0.0, np.inf, -np.inf]]).astype(
        np.float32
    )
    bf16 = round_to(x, "bfloat16")
    assert np.array_equal(bf16, real_torch.from_numpy(x).to(real_torch.bfloat16).float().numpy())
    assert (bf16.view(np.uint32) & 0xFFFF == 0).all()
    assert bf16[-5] == 1.0 and bf16[-4] == 1 + 2**-6  # ties go to the even neighbour
    assert np.array_equal(round_to(x, "float16"), x.astype(np.float16).astype(np.float32))
    assert round_to(x, "float32") is x
    ids = np.arange(5)
    assert round_to(ids, "bfloat16") is ids


def test_float32_ids_are_unchanged_and_other_dtypes_are_suffixed():
    softmax = CATALOG["Softmax"]
    assert ("Softmax", "64x16384-axis-1") in VARIANTS
    assert [v.id for v in softmax.variants("models")][:1] == ["64x16384-axis-1-float16"]
    assert {v.dtype for v in softmax.variants("default")} == {"float32"}
    assert {v.dtype for v in softmax.variants("tiny")} == set(DTYPES)
    assert [dtype_of(i) for i in ("4x3x8", "4x3x8-float16", "4x3x8-bfloat16", "x-causal")] == [
        "float32",
        "float16",
        "bfloat16",
        "float32",
    ]
    with pytest.raises(ValueError, match="dtype 'float64'"):
        Variant(shapes={"x": (2,)}, dtype="float64")


def test_inputs_are_rounded_to_the_dtype_and_integers_kept():
    gather = CATALOG["Gather"]
    f32, f16 = (next(v for v in gather.variants("tiny") if v.dtype == d) for d in ("float32", "float16"))
    a, b = gather.make_inputs(f32), gather.make_inputs(f16)
    assert np.array_equal(a["index"], b["index"]) and b["index"].dtype == np.int64
    assert np.array_equal(b["table"], a["table"].astype(np.float16).astype(np.float32))
    assert not np.array_equal(a["table"], b["table"])


def test_models_preset_holds_the_new_ops_and_default_does_not():
    new = {"RMSNorm", "RoPE", "GELU", "GELUTanh", "SiLU", "SwiGLU", "AttentionPrefill", "AttentionDecode"}
    new |= {"TopK", "LogSumExp", "CrossEntropy", "Embedding", "QuantizedMatmul"}
    assert new <= set(CATALOG)
    for name in new:
        assert not CATALOG[name].variants("default") and not CATALOG[name].variants("seed")
        assert {v.dtype for v in CATALOG[name].variants("models")} == set(DTYPES)
    grid = [v for v in CATALOG["QuantizedMatmul"].variants("models") if v.dtype == "bfloat16"]
    assert {(v.options["bits"], v.options["group"], v.shapes["x"][0]) for v in grid} == {
        (b, g, n) for b in (4, 8) for g in (32, 64, 128) for n in (1, 8, 32)
    }


def _tiny(op_name: str, dtype: str, index: int = 0):
    return [v for v in CATALOG[op_name].variants("tiny") if v.dtype == dtype][index]


def _statuses(op, variant) -> dict[str, tuple[str, str]]:
    return {r.backend: (r.status, r.detail) for r in check_variant(op, variant, CPU)}


def _drop_biases(inputs):
    dense = quantized._dense({**inputs, "biases": np.zeros_like(inputs["biases"])})
    return dense


PLANTED = {
    "torch upcasts to float32": ("Sigmoid", "float16", 0, {"torch": lambda x: torch.sigmoid(x.float())}, "torch_cpu"),
    "mlx upcasts to float32": (
        "Sigmoid",
        "bfloat16",
        0,
        {"mlx": lambda x: mx.sigmoid(x.astype(mx.float32))},
        "mlx_cpu",
    ),
    "attention scale dropped": (
        "AttentionPrefill",
        "bfloat16",
        0,
        {"torch": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0, enable_gqa=True)},
        "torch_cpu",
    ),
    "decode not grouped as the model is": (
        "AttentionDecode",
        "float16",
        0,
        {
            "torch": lambda q, k, v: F.scaled_dot_product_attention(
                q, k.repeat(1, 2, 1, 1), v.repeat(1, 2, 1, 1), scale=q.shape[-1] ** -0.5
            )
        },
        "torch_cpu",
    ),
    "rms_norm weight dropped": (
        "RMSNorm",
        "bfloat16",
        0,
        {"mlx": lambda x, weight: mx.fast.rms_norm(x, mx.ones_like(weight), 1e-5)},
        "mlx_cpu",
    ),
    "rope position ignored": (
        "RoPE",
        "bfloat16",
        1,
        {
            "torch": lambda x, cos, sin, *, offset: (
                x * cos[: x.shape[-2]] + torch.cat((-x[..., 4:], x[..., :4]), dim=-1) * sin[: x.shape[-2]]
            )
        },
        "torch_cpu",
    ),
    "dequantized without biases": ("QuantizedMatmul", "bfloat16", 0, {"torch_layout": _drop_biases}, "torch_cpu"),
    "swiglu without its gate activation": (
        "SwiGLU",
        "bfloat16",
        1,
        {"torch": lambda x, w_gate, w_up, w_down: ((x @ w_gate) * (x @ w_up)) @ w_down},
        "torch_cpu",
    ),
    "top-k one value off": (
        "TopK",
        "bfloat16",
        0,
        {"torch": lambda logits, *, k: torch.topk(logits, k + 1, dim=-1).values[..., 1:]},
        "torch_cpu",
    ),
    "exact gelu for the tanh form": ("GELUTanh", "float32", 0, {"torch": lambda x: F.gelu(x)}, "torch_cpu"),
    "cross-entropy on probabilities": (
        "CrossEntropy",
        "float16",
        0,
        {"torch": lambda logits, targets: F.nll_loss(torch.softmax(logits, -1), targets)},
        "torch_cpu",
    ),
}


@pytest.mark.parametrize("bug", list(PLANTED))
def test_planted_bugs_fail_verification_on_their_side_only(bug):
    name, dtype, index, change, planted_on = PLANTED[bug]
    op = dataclasses.replace(CATALOG[name], **change)
    statuses = _statuses(op, _tiny(name, dtype, index))
    assert statuses[planted_on][0] == "FAIL", statuses
    other = next(b.name for b in CPU if b.name != planted_on)
    assert statuses[other][0] == "ok", statuses


def test_an_upcast_is_named_in_the_failure():
    op = dataclasses.replace(CATALOG["Sigmoid"], torch=lambda x: torch.sigmoid(x.float()))
    assert "output is float32, not float16" in _statuses(op, _tiny("Sigmoid", "float16"))["torch_cpu"][1]


def test_mlx_softmax_without_precise_fails_on_a_long_bfloat16_row():
    """Why the catalog asks MLX for ``precise=True``: summed in bfloat16, 4096 values are off by far more than
    epsilons (torch accumulates in float32 always)."""
    softmax = CATALOG["Softmax"]
    long_row = dataclasses.replace(var(x=(2, 4096), axis=-1), dtype="bfloat16")
    assert _statuses(softmax, long_row) == {"mlx_cpu": ("ok", ""), "torch_cpu": ("ok", "")}
    imprecise = dataclasses.replace(softmax, mlx=lambda x, *, axis: mx.softmax(x, axis=axis))
    assert _statuses(imprecise, long_row)["mlx_cpu"][0] == "FAIL"


def test_missing_apis_and_refused_dtypes_are_na_with_the_reason():
    missing = dataclasses.replace(CATALOG["RMSNorm"], torch_requires=("nn.functional.no_such_norm",))
    status, detail = _statuses(missing, _tiny("RMSNorm", "float32"))["torch_cpu"]
    assert status == "skipped" and detail.startswith("unsupported in torch 2.") and "no_such_norm" in detail

    def refuses_half(x):
        if x.dtype != torch.float32:
            raise RuntimeError("\"sigmoid_cpu\" not implemented for 'Half'")
        return torch.sigmoid(x)

    refused = dataclasses.replace(CATALOG["Sigmoid"], torch=refuses_half)
    status, detail = _statuses(refused, _tiny("Sigmoid", "float16"))["torch_cpu"]
    assert status == "skipped" and detail.startswith("no float16 Sigmoid in torch ") and "Half" in detail
    assert _statuses(refused, _tiny("Sigmoid", "float32"))["torch_cpu"][0] == "ok"

    def always_fails(x):
        raise RuntimeError("broken")

    with pytest.raises(RuntimeError, match="broken"):  # float32 never hides an error as n/a
        _statuses(dataclasses.replace(CATALOG["Sigmoid"], torch=always_fails), _tiny("Sigmoid", "float32"))


def test_rope_decode_rotates_at_the_last_position_of_the_cache():
    v = _tiny("RoPE", "float32", 1)
    assert v.kwargs["offset"] == CONTEXT - 1
    assert _statuses(CATALOG["RoPE"], v) == {"mlx_cpu": ("ok", ""), "torch_cpu": ("ok", "")}


def _three_dtypes(tmp_path: Path) -> Path:
    """The recorded fixture with ReLU's time results in all three dtypes: float16 twice float32, bfloat16 four times."""
    out = tmp_path / "results"
    shutil.copytree(FIXTURE, out)
    scaled = {"result", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75"}
    for path in (out / "fixture-cpu").glob("*-*.json"):
        doc = json.loads(path.read_text())
        for backend in ("mlx_cpu", "torch_cpu"):
            row = doc["results"][f"ops.ReLU.time_{backend}"]
            entry = dict(zip(doc["result_columns"], row))
            ids = [p.strip("'") for p in entry["params"][0]]
            for column, values in entry.items():
                if column == "params":
                    entry[column] = [[f"'{i}{s}'" for s in ("", "-float16", "-bfloat16") for i in ids]]
                elif isinstance(values, list):
                    factors = (1, 2, 4) if column in scaled else (1, 1, 1)
                    entry[column] = [None if x is None else x * f for f in factors for x in values]
            doc["results"][f"ops.ReLU.time_{backend}"] = [entry[c] for c in doc["result_columns"][: len(row)]]
        path.write_text(json.dumps(doc))
    return out


def test_results_keep_dtypes_apart_in_every_table(tmp_path):
    tags = timeline.sync(tmp_path / "t.git", releases.load())
    loaded = results.load(_three_dtypes(tmp_path), tags)
    relu = [m for m in loaded.measurements if m.op == "ReLU" and m.kind == "time" and m.backend == "mlx_cpu"]
    assert {m.dtype for m in relu} == set(DTYPES)
    report = Report(loaded, preset="tiny", ops=["ReLU"], backends=["mlx_cpu", "torch_cpu"])
    assert report.series == ["fixture-cpu", "fixture-cpu [float16]", "fixture-cpu [bfloat16]"]
    cells = {}
    for series in report.series:
        table = report.average(series, report.releases_of(series)[-1])
        (row,) = [r for r in table.rows if r[0] == "ReLU"]
        cells[table.meta["dtype"]] = row[1]
        assert table.meta["dtype"] in table.title or table.meta["dtype"] == "float32"
    assert cells["float16"] == pytest.approx(2 * cells["float32"])
    assert cells["bfloat16"] == pytest.approx(4 * cells["float32"])
    (half,) = report.tables(["dtypes"])[:1]
    (row,) = [r for r in half.rows if r[0] == "ReLU"]
    assert row[3] == pytest.approx(2.0) and row[6] == pytest.approx(2.0)  # bf16/fp16 per backend
    only = Report(loaded, preset="tiny", ops=["ReLU"], dtype="float16")
    assert only.series == ["fixture-cpu [float16]"]


def test_an_op_named_in_a_preset_without_it_is_refused_with_where_it_is():
    from mlxbench import selection
    from mlxbench.errors import UsageError

    assert len(selection.ops(None, "default")) == 23 and len(selection.ops(None, "models")) == len(CATALOG)
    with pytest.raises(UsageError, match="RMSNorm has no variants in preset 'default'; it is in: tiny, models"):
        selection.ops(["RMSNorm"], "default")
