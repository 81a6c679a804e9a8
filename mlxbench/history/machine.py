"""Names this computer the way the older suite's tables did, and registers it with ASV.

Apple Silicon: ``M1 Pro (2E+8P+16GPU+16GB)`` from sysctl and system_profiler.
Linux: the CPU model, core count, memory and GPU (nvidia-smi). Each chip is one
ASV machine, so results of two chips live in two ``results/<machine>/`` folders
and never overwrite each other.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

from mlxbench.harness import versions


def _run(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _mac_info() -> dict[str, Any]:
    chip = _run("sysctl", "-n", "machdep.cpu.brand_string").removeprefix("Apple ").strip()
    perf = int(_run("sysctl", "-n", "hw.perflevel0.physicalcpu") or 0)
    eff = int(_run("sysctl", "-n", "hw.perflevel1.physicalcpu") or 0)
    mem_gb = round(int(_run("sysctl", "-n", "hw.memsize") or 0) / 2**30)
    gpu = re.search(r"Total Number of Cores:\s*(\d+)", _run("system_profiler", "SPDisplaysDataType"))
    gpu_cores = int(gpu.group(1)) if gpu else 0
    name = f"{chip} ({eff}E+{perf}P+{gpu_cores}GPU+{mem_gb}GB)"
    return {
        "chip": chip,
        "cores": perf + eff,
        "perf_cores": perf,
        "efficiency_cores": eff,
        "gpu": chip if gpu_cores else "",
        "gpu_cores": gpu_cores,
        "memory_gb": mem_gb,
        "name": name,
    }


def _read(path: str) -> str:
    """A kernel text file, or "" where this system has none."""
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _linux_info() -> dict[str, Any]:
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    chip = re.sub(r"\((R|TM)\)|CPU|Processor|\s+@.*", "", model.group(1) if model else platform.processor()).strip()
    chip = re.sub(r"\s+", " ", chip) or platform.machine()
    meminfo = _read("/proc/meminfo")
    mem = re.search(r"MemTotal:\s*(\d+)", meminfo)
    mem_gb = round(int(mem.group(1)) / 2**20) if mem else 0
    gpu = _run("nvidia-smi", "--query-gpu=name", "--format=csv,noheader").splitlines()
    gpu_name = gpu[0].strip() if gpu else ""
    cores = os.cpu_count() or 0
    name = f"{chip} ({cores}C+{mem_gb}GB" + (f"+{gpu_name}" if gpu_name else "") + ")"
    return {"chip": chip, "cores": cores, "gpu": gpu_name, "gpu_cores": 0, "memory_gb": mem_gb, "name": name}


def _torch_threads() -> int | str:
    """torch's intra-op thread pool (every core unless OMP_NUM_THREADS says otherwise); absent torch is not imported."""
    if importlib.util.find_spec("torch") is None:
        return "torch not installed"
    import torch

    return torch.get_num_threads()


def _mlx_cpu_threads() -> str:
    """MLX's CPU backend computes each op on one thread; only where BLAS is Apple's Accelerate may a GEMM use more."""
    if platform.system() == "Darwin":
        return "1 per op (matmul and convolution through Accelerate, which may use more)"
    return "1 (single-threaded CPU backend with a reference BLAS on Linux)"


def describe() -> dict[str, Any]:
    """This machine's ASV entry: the standard fields plus chip, cores, gpu, memory, threads and float32 policy.

    ASV copies these fields into every result's ``params``, so each result
    says how many threads torch_cpu and mlx_cpu computed with and that MLX ran
    with TF32 off (the suite sets ``MLX_ENABLE_TF32=0`` in every benchmark
    process; results without the field predate that).
    """
    info = _mac_info() if platform.system() == "Darwin" else _linux_info()
    name = info.pop("name").replace("/", "-")
    return {
        "machine": name,
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu": info["chip"],
        "num_cpu": str(info["cores"]),
        "ram": str(info["memory_gb"] * 2**20),
        **info,
        "torch_threads": _torch_threads(),
        "mlx_cpu_threads": _mlx_cpu_threads(),
        "mlx_enable_tf32": versions.MLX_FLOAT32_ENV["MLX_ENABLE_TF32"],
    }


def register(name: str | None = None) -> dict[str, Any]:
    """Write (or overwrite) this machine's entry in ``~/.asv-machine.json``."""
    from asv.machine import MachineCollection

    info = describe()
    if name:
        info["machine"] = name
    MachineCollection.save(info["machine"], info)
    return info
