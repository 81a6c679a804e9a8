"""Throwaway ASV projects: one over a timeline of real MLX releases (tests and fixture recording), or a bare one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mlxbench.history.asv_project import AsvProject
from mlxbench.stack import releases, timeline

ROOT = Path(__file__).resolve().parent.parent
ASV = str(Path(sys.executable).with_name("asv"))

Asv = Callable[..., subprocess.CompletedProcess]


def make(
    work: Path, versions: Sequence[str], matrix: dict, preset: str = "tiny", torch_versions: Sequence[str] = ()
) -> Asv:
    """Write asv.conf.json and the timeline under ``work``; returns a runner for asv commands there.

    ``versions`` are MLX releases, ``torch_versions`` torch releases (none by
    default: a matrix without torch is timeline mode, and the install step must
    never fetch a multi-GB torch in a test). HOME points into ``work`` so the
    machine file is the project's own; pip's cache stays the user's so releases
    download once.
    """
    mlx, torch = releases.load("mlx"), releases.load("torch")
    timeline.sync(
        work / "timeline.git",
        [releases.find(v, mlx) for v in versions],
        [releases.find(v, torch) for v in torch_versions],
    )
    conf = {
        "version": 1,
        "project": "mlxbench",
        "repo": str(work / "timeline.git"),
        "dvcs": "git",
        "branches": ["main"],
        "build_command": [],
        "install_command": [f"python {ROOT}/mlxbench/history/asv_install.py {{build_dir}}"],
        "uninstall_command": ["return-code=any python -m pip uninstall -y --quiet mlx mlx-cpu"],
        "environment_type": "virtualenv",
        "plugins": [".mlxbench.history.asv_environment"],  # the main job's "installed" environment
        "matrix": {"req": matrix},
        "benchmark_dir": str(ROOT / "benchmarks"),
        "env_dir": str(work / "env"),
        "results_dir": str(work / "results"),
        "html_dir": str(work / "html"),
    }
    (work / "asv.conf.json").write_text(json.dumps(conf))
    env = {
        **os.environ,
        "HOME": str(work),
        "MLXBENCH_PRESET": preset,
        "MLXBENCH_TORCH_INSTALL": "never",  # belt and braces: no torch from the index, whatever the timeline pins
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
    }

    def asv(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([ASV, *args], cwd=work, env=env, capture_output=True, text=True, timeout=1500)
        if check:
            assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        return proc

    return asv


def configured(work: Path, preset: str = "tiny", **settings: object) -> AsvProject:
    """A throwaway project at ``work`` whose configuration holds only ``settings`` (paths relative to ``work``)."""
    (work / "asv.conf.json").write_text(json.dumps(settings))
    return AsvProject(work, preset)
