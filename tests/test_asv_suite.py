"""The ASV suite: discovery, `asv check`, and a real run over real MLX releases."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import asv_project
import pytest

from mlxbench.catalog import CATALOG
from mlxbench.harness.backends import BACKENDS
from mlxbench.harness.benchmark_names import COUNTED
from mlxbench.stack import releases, timeline

ROOT = asv_project.ROOT
ASV = asv_project.ASV


def _discover(monkeypatch: pytest.MonkeyPatch, preset: str) -> list:
    """ASV's own discovery of the suite with ``preset``, from a fresh import (classes depend on the preset)."""
    from asv_runner.discovery import disc_benchmarks

    monkeypatch.setenv("MLXBENCH_PRESET", preset)
    for name in [m for m in sys.modules if m == "benchmarks" or m.startswith("benchmarks.")]:
        monkeypatch.delitem(sys.modules, name)
    return list(disc_benchmarks(str(ROOT / "benchmarks")))


def test_discovery_finds_one_class_per_op_with_a_method_per_backend(monkeypatch):
    found = _discover(monkeypatch, "tiny")
    names = {b.name for b in found}
    timed = {f"ops.{op}.time_{backend}" for op in CATALOG for backend in BACKENDS}
    memory = {f"ops.{op}.peakmem_{backend}" for op in CATALOG for backend in BACKENDS}
    device = {f"ops.{op}.track_device_peak_{b}" for op in CATALOG for b, be in BACKENDS.items() if be.device != "cpu"}
    assert len(timed) == 36 * 7  # the older suite's 23 ops and the models preset's 13, all in tiny
    counted = {
        f"ops.{op}.{kind}_{b}" for op in CATALOG for b, be in BACKENDS.items() if be.device == "cpu" for kind in COUNTED
    }
    assert names == timed | memory | device | counted
    for bench in found:
        op = CATALOG[bench.name.split(".")[1]]
        assert bench.params == [[repr(v.id) for v in op.variants("tiny")]]
        expected = f"{op.name}-r{op.revision}-h1"  # torch_cpu's inputs moved into torch's allocator: its own -b1
        expected += "-b1" if bench.name.endswith("_torch_cpu") else ""
        if bench.name.split(".")[2].startswith(COUNTED):  # torch: allocators left out; MLX: and repeated to 5 M
            expected += "-c5" if bench.name.endswith("_torch_cpu") else "-c7"
        assert bench.version == expected, bench.name


def test_asv_check_passes():
    proc = subprocess.run(
        [ASV, "check", "-E", f"existing:{sys.executable}"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No problems found" in proc.stdout


def test_unknown_preset_in_the_environment_is_named():
    from mlxbench.harness.asv_suite import preset_from_env

    os.environ["MLXBENCH_PRESET"] = "bogus"
    try:
        with pytest.raises(ValueError, match="valid presets: default, seed, tiny"):
            preset_from_env()
    finally:
        del os.environ["MLXBENCH_PRESET"]


E2E_RELEASES = ["0.0.2", "0.31.1", "0.32.4"]  # 0.0.2 has no Linux wheel: skipped, not fatal


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    """A real `asv run` over a timeline of real releases, installed into ASV's own virtualenvs."""
    work = tmp_path_factory.mktemp("asv")
    # numpy only: torch's backends then show n/a, which is part of what this checks.
    asv = asv_project.make(work, E2E_RELEASES, {"numpy": [""], "packaging": [""]})
    # Registered as `mlxbench bench` registers: the entry (threads included) lands in every result's params.
    subprocess.run(
        [sys.executable, "-m", "mlxbench", "machine", "--name", "e2e"],
        env={**os.environ, "HOME": str(work)},
        check=True,
        capture_output=True,
    )
    run = asv(
        "run",
        "ALL",
        "--machine",
        "e2e",
        "--quick",
        "--show-stderr",
        "-b",
        r"^ops\.(ReLU|ScaledDotProductAttention)\.time_(mlx_cpu|torch_cpu)\b",
        check=False,
    )
    return work, asv, run


@pytest.mark.e2e
def test_asv_run_installs_each_release_and_records_results(e2e):
    work, _, run = e2e
    files = sorted((work / "results" / "e2e").glob("*-*.json"))
    tags = timeline.tags(work / "timeline.git")
    hashes = {f.name.split("-")[0] for f in files}
    assert {tags["v0.31.1"][:8], tags["v0.32.4"][:8]} <= hashes, run.stdout[-3000:]
    assert "mlx 0.0.2 has no wheel for this Python and platform; skipped" in run.stdout + run.stderr
    for f in files:
        doc = json.loads(f.read_text())
        if f.name.startswith(tags["v0.0.2"][:8]):
            continue
        assert doc["params"]["torch_threads"] > 0 and doc["params"]["mlx_cpu_threads"], doc["params"]
        result = dict(zip(doc["result_columns"], doc["results"]["ops.ReLU.time_mlx_cpu"]))["result"]
        assert all(isinstance(v, float) and v > 0 for v in result)
        missing_torch = dict(zip(doc["result_columns"], doc["results"]["ops.ReLU.time_torch_cpu"]))["result"]
        assert all(v != v for v in missing_torch)  # NaN: n/a, torch is not in this environment


@pytest.mark.e2e
def test_asv_compare_prints_rows_for_both_releases(e2e):
    _, asv, _ = e2e
    out = asv("compare", "v0.31.1", "v0.32.4", "--machine", "e2e").stdout
    rows = [line for line in out.splitlines() if "ops.ReLU.time_mlx_cpu" in line]
    assert len(rows) == 6, out  # one per tiny variant: two shapes in three dtypes
    assert all(len(re.findall(r"\d+(?:\.\d+)?[μm]?s", row)) >= 2 for row in rows), rows


@pytest.mark.e2e
def test_asv_publish_lists_both_tags_with_release_dates(e2e):
    work, asv, _ = e2e
    asv("publish")
    index = json.loads((work / "html" / "index.json").read_text())
    catalog = releases.load()
    for tag in ("v0.31.1", "v0.32.4"):
        assert tag in index["tags"]
        date_ms = index["revision_to_date"][str(index["tags"][tag])]
        from datetime import datetime, timezone

        published = datetime.fromtimestamp(date_ms / 1000, tz=timezone.utc).isoformat()
        assert published.startswith(releases.find(tag, catalog).date[:19])


def test_default_preset_benchmarks_keep_their_committed_names_params_and_versions(monkeypatch):
    """Renaming a benchmark, a variant id or a version orphans the committed history: never by accident.

    ``tests/fixtures/benchmark_names.json`` is ASV's own discovery of the default
    preset as committed with the results; change it only together with a
    deliberate restart of the history (and say so in the commit).
    """
    found = {
        b.name: {"params": b.params, "version": b.version, "type": b.type} for b in _discover(monkeypatch, "default")
    }
    committed = json.loads((ROOT / "tests" / "fixtures" / "benchmark_names.json").read_text())
    assert sorted(found) == sorted(committed)
    assert found == committed


def test_the_models_preset_discovers_only_ops_with_models_variants(monkeypatch):
    """An op with no variants in a preset has no ASV class there (ASV cannot run an empty parameter list)."""
    models = {b.name.split(".")[1] for b in _discover(monkeypatch, "models")}
    default = {b.name.split(".")[1] for b in _discover(monkeypatch, "default")}
    assert models == set(CATALOG)
    assert "QuantizedMatmul" in models and "QuantizedMatmul" not in default and len(default) == 23
