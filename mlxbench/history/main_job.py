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
from typing import Any

from mlxbench.catalog.spec import Op
from mlxbench.errors import UsageError
from mlxbench.harness import benchmark_names, verified, versions
from mlxbench.harness.asv_suite import PRESET_ENV
from mlxbench.harness.backends import Backend
from mlxbench.history import asv_environment, asv_run, lock, machine, quiet
from mlxbench.history.asv_project import AsvProject
from mlxbench.selection import Selection
from mlxbench.store import results


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
class MainJobPlan(asv_run.ProjectPlan):
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
    kept: frozenset[tuple[str, str]] = frozenset()
    """(op, backend) of the selection this machine already has at this release: left as they are, not run."""

    @property
    def command(self) -> list[str]:
        """The ``asv run`` of this commit in this interpreter, filed under the commit and this machine."""
        trial = self.project.trial
        return [
            asv_run.ASV,
            "run",
            "--config",
            str(self.config),
            f"{self.commit}^!",  # ASV's loop commit: the one whose results it loads and adds to
            "-E",
            f"{asv_environment.TOOL_NAME}:{sys.executable}",
            "--set-commit-hash",
            self.commit,
            "--machine",
            self.machine["machine"],
            "-b",
            without(self.kept)
            + benchmark_names.selection_regex(
                self.ops, self.backends, *([benchmark_names.COUNTED] if self.counted else []), skip=self.skip
            ),
            "--show-stderr",
            "--record-samples",
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
    """False when this machine already timed the whole selection at this release (kept, nothing verified or run)."""


def without(pairs: frozenset[tuple[str, str]]) -> str:
    """A regex prefix (an ``asv run -b`` lookahead) leaving out every benchmark of these (op, backend) pairs."""
    if not pairs:
        return ""
    kinds = "|".join(benchmark_names.KINDS)
    names = "|".join(rf"{op}\.(?:{kinds})_{backend}" for op, backend in sorted(pairs))
    return rf"(?!{benchmark_names.SUITE_MODULE}\.(?:{names})(?:\(|$))"


def timed(p: MainJobPlan) -> set[tuple[str, str]]:
    """(op, backend) whose timing (a count: instructions) every series of the plan holds at its commit, under the
    suite's current version.

    Peak memory is left out of the question: a time-only history at this release counts as measured.
    """
    found: list[set[tuple[str, str]]] = []
    for series in p.series:
        path = p.machine_dir / f"{p.commit[:8]}-{series}.json"
        try:
            measured, _ = results.read_file(path) if path.is_file() else ([], [])
        except ValueError:
            measured = []  # unreadable: ASV's run sets it aside (quiet.run) and measures the selection again
        kind = benchmark_names.INSTRUCTIONS if p.counted else benchmark_names.TIME
        found.append({(m.op, m.backend) for m in measured if m.kind == kind})
    return set.intersection(*found) if found else set()


def pairs_text(pairs: set[tuple[str, str]] | frozenset[tuple[str, str]], ops: list[Op] | None = None) -> str:
    """(op, backend) pairs in words, by backend: ``mlx_cpu: ReLU, Sum; torch_cpu: every op (23)``.

    ``ops``, where given, is the selection: a backend that has all of them reads "every selected op".
    """
    by_backend: dict[str, list[str]] = {}
    for op, backend in sorted(pairs):
        by_backend.setdefault(backend, []).append(op)
    parts = []
    for backend, names in by_backend.items():
        if ops is not None and len(ops) > 1 and {op.name for op in ops} <= set(names):
            parts.append(f"{backend}: every selected op ({len(names)})")
        elif len(names) > 6:
            parts.append(f"{backend}: {', '.join(names[:5])} and {len(names) - 5} more")
        else:
            parts.append(f"{backend}: {', '.join(names)}")
    return "; ".join(parts)


def left_to_measure(p: MainJobPlan, say: asv_run.Say) -> MainJobPlan:
    """``p`` with :attr:`~MainJobPlan.kept` set to what of its selection this machine already times at its release
    (none for a ``rerun``), and said: that, and what else the release holds here, which ASV keeps as it is."""
    have = timed(p)
    selected = {(op.name, b.name) for op in p.ops for b in p.backends}
    p = replace(p, kept=frozenset() if p.rerun else frozenset(selected & have))
    if p.kept == selected:
        return p
    if kept := p.kept | (have - selected):
        where = "outside the selection " if p.rerun else ""
        lacking = f"; measuring what the selection lacks ({pairs_text(selected - p.kept, list(p.ops))})"
        say(
            f"kept as they are: what {p.machine['machine']!r} already has at mlx {p.tag} {where}({pairs_text(kept)})"
            + (f"{lacking}; `--rerun` measures the selection again" if p.kept else "")
        )
    return p


def run(p: MainJobPlan, say: asv_run.Say = asv_run.unheard, call: Callable[..., int] = lock.call) -> MainJobOutcome:
    """Verify, then run a :func:`plan`: what of the selection this machine lacks at this release (``rerun``:
    all of it), everything else it has there kept as it is and said; a trial measures everything.

    ``say`` hears the progress; ``call`` runs ASV (the tests' fake stands in for it).
    """
    if not p.project.trial:
        p = left_to_measure(p, say)
        if len(p.kept) == len(p.ops) * len(p.backends):
            return MainJobOutcome(0, p, measured=False)
    lacking = {(op.name, b.name) for op in p.ops for b in p.backends} - p.kept
    ops = [op for op in p.ops if any(name == op.name for name, _ in lacking)]
    backends = [b for b in p.backends if any(name == b.name for _, name in lacking)]
    passed = verified.passing(ops, p.preset, backends, say)
    if not passed.backends:
        say("nothing timed: every selected backend failed verification")
        return MainJobOutcome(1)
    dropped = {b.name for b in backends} - {b.name for b in passed.backends}
    p = replace(p, backends=[b for b in p.backends if b.name not in dropped], skip=passed.failed)
    machine.save(p.machine)
    say(
        f"benchmarking mlx {p.tag} (timeline commit {p.commit[:8]}), torch {versions.torch_version()}, "
        f"preset {p.preset!r} on {p.machine['machine']!r}, series {', '.join(p.series)}, "
        + ("counting instructions under valgrind (one warm call each), " if p.counted else "")
        + f"results in {p.results_dir}"
        + (" (a trial: it measures everything)" if p.project.trial else " (measuring again)" if p.rerun else "")
    )
    env = {**os.environ, PRESET_ENV: p.preset}
    asv = quiet.AsvRun(p.command, call, p.config.parent, env, p.commit, p.series[0], counted=p.counted)
    return MainJobOutcome(quiet.run(asv, p.machine_dir), p)
