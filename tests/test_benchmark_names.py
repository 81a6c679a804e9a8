"""The benchmarks' names: one format, ``ops.<Op>.<kind>_<backend>``, built and parsed by one module."""

from __future__ import annotations

import json
from pathlib import Path

from mlxbench.catalog import CATALOG
from mlxbench.harness.backends import BACKENDS
from mlxbench.harness.benchmark_names import KINDS, BenchmarkName, build, method, parse

ROOT = Path(__file__).resolve().parent.parent


def test_every_name_parses_back_into_what_built_it():
    for op in CATALOG:
        for kind in KINDS:
            for backend in BACKENDS:
                assert parse(build(op, kind, backend)) == BenchmarkName(op, kind, backend)
    assert (
        build("Softmax", "time", "mlx_cpu") == "ops.Softmax." + method("time", "mlx_cpu") == "ops.Softmax.time_mlx_cpu"
    )
    assert parse("ops.Softmax.track_device_peak_mlx_gpu") == BenchmarkName("Softmax", "track_device_peak", "mlx_gpu")


def test_names_that_are_not_the_suites_do_not_parse():
    for name in (
        "ops.ReLU.time_mlx_cpu('4x3x8')",  # a parameter combination, not a benchmark
        "ops.ReLU.timeit_mlx_cpu",
        "ops.ReLU.setup",
        "ops.time_mlx_cpu",
        "other.ReLU.time_mlx_cpu",
        "ops.A.B.time_mlx_cpu",
    ):
        assert parse(name) is None, name


def test_the_committed_names_are_all_the_suites():
    committed = json.loads((ROOT / "tests" / "fixtures" / "benchmark_names.json").read_text())
    parsed = [parse(name) for name in committed]
    assert all(parsed) and {p.kind for p in parsed} == set(KINDS) and {p.backend for p in parsed} == set(BACKENDS)
