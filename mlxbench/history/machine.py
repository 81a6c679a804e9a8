"""Names this computer for ASV: its chip configuration plus a short hash of the host.

The chip configuration is named the way the older suite's tables did: Apple
Silicon ``M1 Pro (2E+8P+16GPU+16GB)`` from sysctl and system_profiler; Linux
the CPU model, core count, memory and GPU (nvidia-smi). Two hosts of one model
must not share a series (one may run 40% slower than the other, and their
points in one line would invent regressions), so the ASV machine name is
``"<config> <host>"``: ``host`` is 6 hex characters of a SHA-256 of the
hardware's id (``/etc/machine-id`` and the primary MAC on Linux, the platform
UUID on macOS; never the raw id), so every user, home, virtual environment and
ephemeral runner on one host gets one name.
``os`` is coarse (``Linux 6``): a kernel patch must not split a series either. Reports group machines by ``config``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

from mlxbench.errors import UsageError
from mlxbench.harness import versions
from mlxbench.store import machines

HOST_ID_ENV = "MLXBENCH_HOST_ID"
"""Overrides the host id (hashed like the real one) where clones share one, e.g. VMs from one image."""
MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


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
    """The intra-op thread count torch_cpu benchmarks with (the matrix's ``MLXBENCH_TORCH_THREADS``, default 1)."""
    if importlib.util.find_spec("torch") is None:
        return "torch not installed"
    return versions.torch_threads()


def _mlx_cpu_threads() -> str:
    """MLX's CPU backend computes each op on one thread; only where BLAS is Apple's Accelerate may a GEMM use more."""
    if platform.system() == "Darwin":
        return "1 per op (matmul and convolution through Accelerate, which may use more)"
    return "1 (single-threaded CPU backend with a reference BLAS on Linux)"


def raw_host_id() -> str:
    """What tells this host apart from others of the same model; hashed by :func:`host_hash`, never published.

    From the hardware and its installation only, never from a user's home, so
    every user and runner on one host gets one name. Linux: ``/etc/machine-id``
    (set at install, survives reboots and kernel updates) plus the primary MAC
    address; ``uuid.getnode()`` falls back to a random number with the
    multicast bit set when it finds no interface, and such a number would
    change the name on every call, so it is left out. macOS: the platform UUID
    (``IOPlatformUUID``). Where none exists, the host name. VMs or containers
    cloned from one image share these: ``MLXBENCH_HOST_ID`` replaces all of it.
    """
    override = os.environ.get(HOST_ID_ENV, "").strip()
    if override:
        return override
    parts = _hardware_ids()
    return "|".join(parts) or platform.node()


def _hardware_ids() -> list[str]:
    parts: list[str] = []
    if platform.system() == "Darwin":
        found = re.search(r'"IOPlatformUUID"\s*=\s*"([^"]+)"', _run("ioreg", "-rd1", "-c", "IOPlatformExpertDevice"))
        if found:
            parts.append(found.group(1))
    else:
        machine_id = next((text for f in MACHINE_ID_FILES if (text := _read(f).strip())), "")
        if machine_id:
            parts.append(machine_id)
        node = uuid.getnode()
        if not (node >> 40) & 1:  # multicast bit clear: a real hardware address
            parts.append(f"{node:012x}")
    return parts


LEGACY_SALT = Path("mlxbench") / "host-id"
"""Where releases before hardware-only names kept a random per-home id, mixed into the host hash."""


def legacy_hosts() -> set[str]:
    """The host hashes this host had under the per-home random id (readable from this home), for renaming.

    Nothing is created: a home without the old file had no old name.
    """
    if os.environ.get(HOST_ID_ENV, "").strip():
        return set()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    try:
        salt = (base / LEGACY_SALT).read_text().strip()
    except OSError:
        return set()
    return {host_hash("|".join([salt, *_hardware_ids()]))} if salt else set()


def host_hash(raw: str) -> str:
    """6 hex characters of SHA-256: enough to tell a lab's hosts apart, nothing to identify the host by."""
    return hashlib.sha256(raw.encode()).hexdigest()[:6]


def coarse_os() -> str:
    """``"<system> <major>"`` (``Linux 6``, ``Darwin 24``): patch releases of the kernel keep the series."""
    return f"{platform.system()} {platform.release().split('.')[0]}"


def virtual_machine() -> str:
    """The hypervisor this system runs under (``kvm``, ``vmware``, or ``unknown``); "" on bare metal.

    A VM's numbers describe the VM, not the chip: GitHub's macOS runners are
    VMs whose Metal is a paravirtual device without MPS. macOS says so in
    ``kern.hv_vmm_present``; on Linux ``systemd-detect-virt --vm`` names the
    hypervisor (``--vm``: a container runs on the host's own chip), else the
    ``hypervisor`` CPU flag in /proc/cpuinfo, which every x86 hypervisor sets.
    """
    if platform.system() == "Darwin":
        return "unknown" if _run("sysctl", "-n", "kern.hv_vmm_present") == "1" else ""
    kind = _run("systemd-detect-virt", "--vm")
    if kind and kind != "none":
        return kind
    flags = re.search(r"^flags\s*:(.*)$", _read("/proc/cpuinfo"), re.MULTILINE)
    return "unknown" if flags and "hypervisor" in flags.group(1).split() else ""


def describe() -> dict[str, Any]:
    """This machine's ASV entry: standard fields plus config, host, chip, cores, gpu, memory, threads, float32 policy.

    The name is ``"<config> <host>"`` and ``os`` is coarse (see the module's
    docstring): the same host always gets the same name, two hosts never do.

    A virtual machine gets the field ``virtual`` (:func:`virtual_machine`),
    which reports and the site show as a label; its name stays the same, so a
    VM measured before the probe existed keeps its series. Bare metal gets no
    field at all: ASV files graphs by every machine field, and a new one on
    every existing Mac would split each of its ASV graphs in two.

    ASV copies these fields into every result's ``params``, so each result
    says how many threads torch_cpu and mlx_cpu computed with and that MLX ran
    with TF32 off (the suite sets ``MLX_ENABLE_TF32=0`` in every benchmark
    process; results without the field predate that).
    """
    info = _mac_info() if platform.system() == "Darwin" else _linux_info()
    config = info.pop("name").replace("/", "-")
    host = host_hash(raw_host_id())
    return {
        "machine": f"{config} {host}",
        "config": config,
        "host": host,
        "os": coarse_os(),
        "arch": platform.machine(),
        "cpu": info["chip"],
        "num_cpu": str(info["cores"]),
        "ram": str(info["memory_gb"] * 2**20),
        **info,
        "torch_threads": _torch_threads(),
        "mlx_cpu_threads": _mlx_cpu_threads(),
        "mlx_enable_tf32": versions.MLX_FLOAT32_ENV["MLX_ENABLE_TF32"],
        **({"virtual": kind} if (kind := virtual_machine()) else {}),
    }


def check_name(name: str) -> str:
    """``name`` if it can name a machine folder, else UsageError (path separators, ``..``, control characters).

    ASV makes ``results/<name>/`` of whatever it is given, so ``..`` would write
    into the repository root and ``a/b`` nest folders.
    """
    problems = []
    if not name.strip():
        problems.append("it is empty")
    if "/" in name or "\\" in name:
        problems.append("it holds a path separator")
    if name.strip() in (".", ".."):
        problems.append("it is a relative folder")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        problems.append("it holds a control character")
    if name != name.strip():
        problems.append("it starts or ends with a space")
    if name.strip().endswith(".json"):
        problems.append("it ends in .json, like the files ASV keeps beside the machine folders (benchmarks.json)")
    if name.strip()[:1] in (".", "~") or "$" in name:
        problems.append("it starts with '.' or '~' or holds '$' (a hidden folder, or a shell path not expanded)")
    if problems:
        raise UsageError(f"{name!r} cannot be a machine name: {'; '.join(problems)}")
    return name


def register(name: str | None = None) -> dict[str, Any]:
    """Write (or overwrite) this machine's entry in ``~/.asv-machine.json``; ``name`` overrides the generated one."""
    info = describe()
    if name is not None:
        info["machine"] = check_name(name)
    save(info)
    return info


def save(info: dict[str, Any]) -> None:
    """Write ``info`` (from :func:`describe`) as its machine's entry in ``~/.asv-machine.json`` (the store's)."""
    machines.register(info)


def check_owner(results_dir: Path, info: dict[str, Any]) -> None:
    """Refuse to write into another host's results: ``results_dir/<name>/machine.json`` must record this host.

    ASV rewrites ``machine.json`` and merges into the result files of whatever
    machine name it is given, so a name chosen by hand (``--machine``) that a
    committed folder already uses would splice this host's numbers into that
    host's series. A folder without a ``host`` (recorded before host ids) is
    another host's as far as anyone can tell.
    """
    path = Path(results_dir) / info["machine"] / "machine.json"
    if not path.exists():
        return
    try:
        recorded = json.loads(path.read_text()).get("host")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if recorded != info["host"]:
        who = f"host {recorded}" if recorded else "a host recorded before host ids"
        raise UsageError(
            f"{path.parent} holds the results of {who}, not this one ({info['host']}); "
            "choose another --machine (or leave it out: this host is named "
            f"{describe()['machine']!r})"
        )
