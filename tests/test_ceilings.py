"""Calibration records and the roofline share the report derives from them."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from mlxbench.harness import ceilings
from mlxbench.harness.backends import BACKENDS
from mlxbench.report.tables import Report
from mlxbench.stack import releases, timeline
from mlxbench.store import ceilings as stored_ceilings
from mlxbench.store import results

FIXTURE = Path(__file__).parent / "fixtures" / "results"


def _ceiling(backend: str, gbs: float, gflops: float) -> ceilings.Ceiling:
    return ceilings.Ceiling(
        backend=backend,
        bandwidth_gbs={str(2**20): gbs * 2, str(2**30): gbs},
        gflops=gflops,
        matmul_n=512,
        mlx=None,
        torch=None,
        measured_at="2026-11-24T00:00:00",
    )


def test_measure_and_roundtrip(monkeypatch, tmp_path):
    monkeypatch.setattr(ceilings, "COPY_ELEMENTS", (2**12, 2**14))
    monkeypatch.setattr(ceilings, "MIN_CALL_SECONDS", 0.0)
    measured = [ceilings.measure(BACKENDS[name], repeats=2) for name in ("mlx_cpu", "torch_cpu")]
    for c in measured:
        assert set(c.bandwidth_gbs) == {str(8 * 2**12), str(8 * 2**14)}
        assert all(v > 0 for v in c.bandwidth_gbs.values()) and c.gflops > 0 and c.matmul_n == 256
    stored_ceilings.save(tmp_path, measured)
    stored_ceilings.save(tmp_path, [_ceiling("mlx_cpu", 1.0, 1.0)])  # appended: the newest line wins
    loaded = stored_ceilings.load(tmp_path, [])
    assert loaded["torch_cpu"] == measured[1]
    assert loaded["mlx_cpu"].gflops == 1.0


def test_bandwidth_follows_the_size_of_the_work():
    c = _ceiling("mlx_cpu", 5.0, 1.0)
    assert c.bandwidth_for(1000) == 10.0  # fits the 1 MB copy: cache bandwidth
    assert c.bandwidth_for(2**25) == 5.0 and c.bandwidth_for(2**40) == 5.0 and c.dram_gbs == 5.0


def test_a_malformed_ceilings_line_is_skipped_and_named_and_the_rest_still_counts(tmp_path):
    stored_ceilings.save(tmp_path, [_ceiling("mlx_cpu", 1.0, 1.0)])
    with (tmp_path / stored_ceilings.FILE).open("a") as fh:
        fh.write('{"backend": "torch_cpu"}\n')
        fh.write(json.dumps({**dataclasses.asdict(_ceiling("torch_cpu", 1.0, 1.0)), "gflops": -3}) + "\n")
    problems: list[str] = []
    assert set(stored_ceilings.load(tmp_path, problems)) == {"mlx_cpu"}
    assert [p.split(": not a ceiling record")[0][-len("ceilings.jsonl:2") :] for p in problems] == [
        "ceilings.jsonl:2",
        "ceilings.jsonl:3",
    ]


def test_roofline_share_by_hand(tmp_path):
    """ReLU 4x3x8 on mlx_cpu: 96 elements, 768 bytes, 96 FLOPs; memory-bound at 10 GB/s."""
    tags = timeline.sync(tmp_path / "t.git", releases.load())
    loaded = results.load(FIXTURE, tags)
    report = Report(loaded, metric="roofline", ceilings={"fixture-cpu": {"mlx_cpu": _ceiling("mlx_cpu", 5.0, 1000.0)}})
    table = report.detailed("fixture-cpu", "v0.32.4")
    row = next(r for r in table.rows if r[:2] == ["ReLU", "4x3x8"])
    seconds = next(
        m.value
        for m in loaded.measurements
        if (m.op, m.variant, m.backend, m.release, m.kind) == ("ReLU", "4x3x8", "mlx_cpu", "v0.32.4", "time")
    )
    names = [c.name for c in table.columns]
    rate, share = row[names.index("mlx_cpu")], row[names.index("mlx_cpu % of roofline")]
    assert rate == f"{768 / seconds / 1e9:#.3g} GB/s"
    assert share == pytest.approx(100 * (768 / 10e9) / seconds)
    assert row[names.index("cpu")] is None  # torch_cpu was never calibrated here: n/a


def test_results_reader_ignores_the_ceilings_file(tmp_path):
    tags = timeline.sync(tmp_path / "t.git", releases.load())
    copy = Path(shutil.copytree(FIXTURE, tmp_path / "results"))
    stored_ceilings.save(copy / "fixture-cpu", [_ceiling("mlx_cpu", 1.0, 1.0)])
    assert not results.load(copy, tags).problems
