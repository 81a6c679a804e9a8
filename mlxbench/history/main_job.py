"""The main job (``mlxbench bench``): this machine at the installed MLX release, measured by ASV in this interpreter.

:func:`plan` decides and checks everything before ASV writes anything (refusals are UsageErrors); :func:`run`
verifies each backend against float64, runs ``asv run`` as ASV's ``installed`` environment and returns a
:class:`MainJobOutcome`. Why it runs so: docs/architecture.md, "The main job".
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlxbench.catalog.spec import Op
from mlxbench.errors import UsageError
from mlxbench.harness import benchmark_names, verified, versions
from mlxbench.harness.asv_suite import PRESET_ENV
from mlxbench.harness.backends import Backend
from mlxbench.history import asv_environment, asv_run, lock, machine, quiet
from mlxbench.history.asv_project import AsvProject
from mlxbench.selection import Selection


def commit_for_installed_mlx(tags: Mapping[str, str]) -> tuple[str, str]:
    """The timeline tag and commit of the installed MLX release; UsageError where it is not catalogued."""
    tag = f"v{versions.mlx_version()}"
    if tag not in tags:
        raise UsageError(
            f"installed mlx {versions.mlx_version()} is not a catalogued release; "
            "install one (`pip install mlx==0.32.4`) or run `mlxbench releases refresh`"
        )
    return tag, tags[tag]


@dataclass(frozen=True)
class MainJobPlan:
    """One main-job run, decided and checked before ASV starts."""

    project: AsvProject
    ops: list[Op]
    backends: list[Backend]
    """The selected backends this machine has (after verification: those that passed)."""
    unavailable: dict[str, str]
    """The selected backends this machine lacks, each with the reason."""
    tag: str
    commit: str
    series: list[str]
    """The environment names the results are filed under (the ones ``asv run`` uses)."""
    machine: dict[str, Any]
    rerun: bool = False
    skip: frozenset[tuple[str, str, str]] = frozenset()
    """(op, backend, dtype) verification failed: not timed (:func:`~.benchmark_names.selection_regex`)."""
    metric: str = "time"
    """``time`` (seconds, peak memory) or ``instructions`` (callgrind's counts: :data:`~.benchmark_names.COUNTED`)."""

    @property
    def preset(self) -> str:
        return self.project.preset

    @property
    def counted(self) -> bool:
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

    @property
    def command(self) -> list[str]:
        """The ``asv run`` of this commit in this interpreter, filed under the commit and this machine."""
        trial = self.project.trial
        return [
            asv_run.ASV,
            "run",
            "--config",
            str(self.config),
            f"{self.commit}^!",  # ASV's loop commit, so --skip-existing-commits looks up this commit's results
            "-E",
            f"{asv_environment.TOOL_NAME}:{sys.executable}",
            "--set-commit-hash",
            self.commit,
            "--machine",
            self.machine["machine"],
            "-b",
            benchmark_names.selection_regex(
                self.ops, self.backends, *([benchmark_names.COUNTED] if self.counted else []), skip=self.skip
            ),
            "--show-stderr",
            "--record-samples",
            # A commit this machine already has is left exactly as it is (a committed results file stays
            # byte-identical, even where this run would add benchmarks it lacks, such as peak memory after a
            # time-only history).
            # A trial always measures; so does a count (it adds its benchmarks to the commit's file, the same numbers).
            *([] if self.rerun or trial or self.counted else ["--skip-existing-commits"]),
            *(["--quick"] if trial else []),
            *asv_run.LAUNCH,
        ]


def plan(project: AsvProject, selection: Selection, rerun: bool = False, metric: str = "time") -> MainJobPlan:
    """Everything the run needs, checked: raises UsageError before anything is written.

    ``rerun`` measures again a release this machine already has; ``metric`` ``instructions`` counts instead
    (CPU backends, valgrind needed: UsageError with how to install it).
    """
    backends, unavailable = asv_run.runnable(asv_run.for_metric(selection.backends, metric))
    tag, commit = commit_for_installed_mlx(project.tags)
    found = asv_environment.commit_pins(str(project.repo), commit)
    try:
        series = asv_environment.preflight(project, sys.executable, found[1] if found else {})
    except ValueError as exc:
        raise UsageError(f"refusing to run: {exc}") from None
    info = asv_run.machine_for(project, selection.machine)
    return MainJobPlan(
        project, list(selection.ops), backends, unavailable, tag, commit, series, info, rerun, metric=metric
    )


@dataclass(frozen=True)
class MainJobOutcome:
    """What :func:`run` did: ASV's exit status and the plan as run (its machine, release, series, results)."""

    code: int
    plan: MainJobPlan | None = None
    """None when nothing ran: every selected backend failed verification."""
    measured: bool = True
    """False when this machine already had this release (kept as it is, nothing verified or run)."""


def already_measured(p: MainJobPlan) -> bool:
    """Whether every series of the plan already has a result file at its commit: ASV would skip the commit."""
    return all((p.machine_dir / f"{p.commit[:8]}-{series}.json").is_file() for series in p.series)


def run(p: MainJobPlan, say: asv_run.Say = asv_run.unheard, call: Callable[..., int] = lock.call) -> MainJobOutcome:
    """Verify, then run a :func:`plan`; a release this machine already has is kept as it is (unless ``rerun``).

    ``say`` hears the progress; ``call`` runs ASV (the tests' fake stands in for it).
    """
    if not (p.rerun or p.project.trial or p.counted) and already_measured(p):
        return MainJobOutcome(0, p, measured=False)
    passed = verified.passing(p.ops, p.preset, p.backends, say)
    if not passed.backends:
        say("nothing timed: every selected backend failed verification")
        return MainJobOutcome(1)
    p = replace(p, backends=passed.backends, skip=passed.failed)
    machine.save(p.machine)
    say(
        f"benchmarking mlx {p.tag} (timeline commit {p.commit[:8]}), torch {versions.torch_version()}, "
        f"preset {p.preset!r} on {p.machine['machine']!r}, series {', '.join(p.series)}, "
        + ("counting instructions under valgrind (one warm call each), " if p.counted else "")
        + f"results in {p.results_dir}"
        + (
            " (a trial: it measures everything)"
            if p.project.trial
            else ""
            if p.rerun or p.counted
            else " (what is there is kept: --rerun)"
        )
    )
    asv = quiet.AsvRun(p.command, call, p.config.parent, {**os.environ, PRESET_ENV: p.preset}, p.commit, p.series[0])
    return MainJobOutcome(quiet.run(asv, p.machine_dir), p)
