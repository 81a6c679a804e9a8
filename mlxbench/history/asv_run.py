"""What the jobs share when they run ``asv run``: the executable, the launch method and the benchmarks to select.

Also the backends this machine has, this machine's entry and a project's ``benchmarks.json``. The jobs are
:mod:`~mlxbench.history.main_job`, :mod:`~mlxbench.history.history_run` and :mod:`~mlxbench.history.compare`;
each says its progress through the :data:`Say` its command gives it, and prints nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mlxbench.errors import UsageError
from mlxbench.harness import benchmark_names, counting
from mlxbench.harness.asv_suite import PRESET_ENV
from mlxbench.harness.backends import Backend
from mlxbench.history import machine, renames
from mlxbench.history.asv_project import AsvProject

ASV = str(Path(sys.executable).with_name("asv"))
LAUNCH = ["--launch-method", "forkserver"] if sys.platform == "linux" else []
"""Linux: fork each benchmark from one process that already imported the frameworks
(about a second saved per benchmark). macOS keeps ``spawn``: Metal does not survive fork."""
Say = Callable[[str], None]
"""Where a job's progress lines go while it runs (its command's stderr): the jobs print nothing themselves."""


class ProjectPlan:
    """What a job's plan derives from its ``project``, ``machine`` and ``metric``: the main job's and the history's."""

    project: AsvProject
    machine: dict[str, Any]
    metric: str

    @property
    def preset(self) -> str:
        return self.project.preset

    @property
    def counted(self) -> bool:
        """Whether the plan counts instructions (``--metric instructions``) rather than timing."""
        return self.metric == "instructions"

    @property
    def tags(self) -> dict[str, str]:
        return self.project.tags

    @property
    def config(self) -> Path:
        return self.project.config

    @property
    def results_dir(self) -> Path:
        return self.project.results_dir

    @property
    def machine_dir(self) -> Path:
        return self.results_dir / self.machine["machine"]


def unheard(line: str) -> None:
    """Progress no command asked to see (a job run on its own, as the tests do)."""


def runnable(backends: Sequence[Backend]) -> tuple[list[Backend], dict[str, str]]:
    """The selected backends this machine has, and why each other one is absent; UsageError where none is here."""
    reasons = {b.name: b.unavailable() for b in backends}
    absent = {name: reason for name, reason in reasons.items() if reason}
    found = [b for b in backends if reasons[b.name] is None]
    if not found:
        why = "".join(f"; {name}: {reason}" for name, reason in absent.items())
        raise UsageError(f"none of the selected backends can run on this machine{why}")
    return found, absent


def for_metric(backends: Sequence[Backend], metric: str) -> list[Backend]:
    """The backends that measure ``metric``: all for time; the CPU backends for instructions, where valgrind is.

    UsageError where nothing selected can be counted (no CPU backend, no valgrind or mimalloc: how to install them).
    """
    if metric not in benchmark_names.METRICS:
        raise UsageError(f"unknown metric {metric!r}; choose from {', '.join(benchmark_names.METRICS)}")
    if metric == "time":
        return list(backends)
    if (reason := counting.tools_missing()) is not None:
        raise UsageError(reason)
    cpu = [b for b in backends if b.device == "cpu"]
    if not cpu:
        raise UsageError(
            f"instructions are counted on the CPU backends only; none of {', '.join(b.name for b in backends)} is one"
        )
    return cpu


def machine_for(project: AsvProject, machine_name: str | None) -> dict[str, Any]:
    """This machine's ASV entry (``machine_name`` overrides its name), refused if the folder is another host's.

    The default preset's folder of that name is checked too: a name another host
    owns there must not start a folder under its name in another preset either.
    """
    info = machine.describe()
    if machine_name is not None:
        info["machine"] = machine.check_name(machine_name)
    for folder in dict.fromkeys([project.results_dir, project.default_results_dir]):
        machine.check_owner(folder, info)
        if machine_name is None and not (folder / info["machine"]).exists():
            former = renames.rename(folder, info, machine.legacy_hosts(), dry_run=True).moved
            if former:
                raise UsageError(
                    f"this host's results are in {former[0][0]} under its former name; "
                    f"`mlxbench migrate --apply` renames them to {info['machine']!r}, then run again"
                )
    return info


def ensure_benchmarks_json(project: AsvProject) -> Path:
    """The project's ``benchmarks.json``, written by ASV's discovery when missing.

    ``asv publish`` and ``asv compare`` need it. It is not committed: ASV
    rewrites it from the suite's source at every run (it holds each method's
    code), so a committed copy would go stale with any edit of the suite and
    every fresh clone's first run would modify it.
    """
    path = project.results_dir / "benchmarks.json"
    if path.exists():
        return path
    info = machine_for(project, None)
    machine.save(info)
    command = [
        ASV,
        "run",
        "--config",
        str(project.config),
        "-E",
        f"existing:{sys.executable}",
        "--bench",
        "just-discover",
        "--machine",
        info["machine"],
    ]
    env = {**os.environ, PRESET_ENV: project.preset}
    if subprocess.call(command, cwd=project.config.parent, env=env) != 0 or not path.exists():
        raise UsageError(f"ASV's discovery did not write {path}")
    return path
