"""Machine naming and registration, and the main job's benchmark selection."""

from __future__ import annotations

import json
import re

from mlxbench.catalog import CATALOG
from mlxbench.harness.backends import BACKENDS
from mlxbench.history import machine
from mlxbench.history.asv_run import bench_regex


def test_description_has_asv_fields_and_chip_details():
    info = machine.describe()
    for key in ("machine", "os", "arch", "cpu", "num_cpu", "ram", "chip", "cores", "gpu", "memory_gb"):
        assert key in info
    assert info["machine"] and "/" not in info["machine"]
    assert info["chip"] in info["machine"] and f"{info['memory_gb']}GB" in info["machine"]


def test_register_writes_the_entry_with_extra_fields(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    info = machine.register("chip-a")
    machine.register("chip-b")
    saved = json.loads((tmp_path / ".asv-machine.json").read_text())
    assert {"chip-a", "chip-b"} <= set(saved)  # two chips never overwrite each other
    assert saved["chip-a"]["chip"] == info["chip"] and saved["chip-a"]["memory_gb"] == info["memory_gb"]


def test_bench_regex_selects_exactly_the_requested_methods():
    pattern = re.compile(bench_regex([CATALOG["ReLU"]], [BACKENDS["mlx_cpu"], BACKENDS["torch_cpu"]]))
    # ASV matches each parameter combination as "name(param, ...)"
    names = [
        f"ops.{op}.{kind}_{b}('4x3x8')"
        for op in ("ReLU", "PReLU", "SeLU")
        for kind in ("time", "peakmem")
        for b in BACKENDS
    ]
    assert [n.split("(")[0] for n in names if pattern.search(n)] == [
        "ops.ReLU.time_mlx_cpu",
        "ops.ReLU.time_torch_cpu",
        "ops.ReLU.peakmem_mlx_cpu",
        "ops.ReLU.peakmem_torch_cpu",
    ]


def test_description_records_threads_and_mlx_float32_setting():
    import torch

    info = machine.describe()
    assert info["torch_threads"] == torch.get_num_threads()
    assert info["mlx_cpu_threads"].startswith("1")
    assert info["mlx_enable_tf32"] == "0"


def test_recorded_machine_entry_carries_the_thread_counts(tmp_path, monkeypatch):
    """ASV copies the machine entry into every result's params: the threads travel with each number."""
    monkeypatch.setenv("HOME", str(tmp_path))
    machine.register("chip-a")
    saved = json.loads((tmp_path / ".asv-machine.json").read_text())["chip-a"]
    assert {"torch_threads", "mlx_cpu_threads", "mlx_enable_tf32"} <= set(saved)
