"""``mlxbench history``: this machine's history, measured only where it can step.

:func:`plan` picks the commits (:func:`mlxbench.history.commits.select`) and checks everything before anything
is written; :func:`run` verifies each backend against float64, then measures the commits in one
``asv run HASHFILE:`` in ASV's own virtualenvs, in interleaved rounds, and returns a :class:`HistoryOutcome`
with its :func:`summary`. The project's mode says pinned or timeline. Why: docs/architecture.md, "The history".
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlxbench.catalog.spec import Op
from mlxbench.errors import UsageError
from mlxbench.harness import benchmark_names, load, verified
from mlxbench.harness.asv_suite import PRESET_ENV, ROUNDS_ENV
from mlxbench.harness.backends import Backend
from mlxbench.history import asv_run, commits, counted_commits, lock, machine, quiet
from mlxbench.history.asv_project import PINNED, TIMELINE, AsvProject
from mlxbench.selection import Selection
from mlxbench.stack import timeline
from mlxbench.stack.releases import Release
from mlxbench.store import files


@dataclass(frozen=True)
class HistoryPlan(asv_run.ProjectPlan):
    """One history run, decided and checked before anything is written."""

    project: AsvProject
    framework: str
    """Whose commits run: ``mlx``, ``torch`` or ``all``."""
    picked: commits.Selection
    """The commits to run, and those left out with the reason."""
    ops: list[Op]
    backends: list[Backend]
    """The selected backends this machine has (after verification: those that passed)."""
    unavailable: dict[str, str]
    """The selected backends this machine lacks, each with the reason."""
    series: list[str]
    """The environment names ASV files this run's results under."""
    machine: dict[str, Any]
    rerun: bool = False
    skip: frozenset[tuple[str, str, str]] = frozenset()
    """(op, backend, dtype) verification failed: not timed (:func:`~.benchmark_names.selection_regex`)."""
    metric: str = "time"
    """``time`` (seconds per call) or ``instructions`` (callgrind's counts: :data:`~.benchmark_names.COUNTED`)."""
    every_commit: bool = False
    """Counted: every backend at every commit, also where its count cannot move (:mod:`.counted_commits`)."""

    @property
    def mode(self) -> str:
        """``pinned`` (the configuration's matrix pins torch) or ``timeline`` (each commit's own torch)."""
        return self.project.mode

    @property
    def quick(self) -> bool:
        return self.project.trial


def check_backends(framework: str, backends: Sequence[Backend], metric: str = "time") -> None:
    """Refuse a timed run whose backends cannot see the chosen framework's changes: it would measure drift only.

    Counted, the other framework's backends are the control: their counts must not move.
    """
    if framework == "all" or metric != "time" or any(b.framework == framework for b in backends):
        return
    raise UsageError(
        f"none of the backends to time ({', '.join(b.name for b in backends)}) is a {framework} backend: at "
        f"{framework} commits they would measure only the machine's drift; add one with --backend "
        "or choose --framework all"
    )


def plan(
    project: AsvProject,
    selection: Selection,
    spec: str | None = None,
    framework: str | None = None,
    rerun: bool = False,
    installs: Callable[[Release], bool] = Release.installs_here,
    metric: str = "time",
    every_commit: bool = False,
) -> HistoryPlan:
    """Everything the run needs, checked: raises UsageError before anything is written.

    ``spec`` is the range of timeline tags or hashes; only the project's own
    timeline commits are candidates. ``installs`` says whether a release has a
    wheel here (the tests fake it).
    """
    backends, unavailable = asv_run.runnable(asv_run.for_metric(selection.backends, metric))
    tags = project.tags
    pinned = project.mode == PINNED
    framework = framework or ("mlx" if pinned else "all")
    candidates = [c for c in timeline.plan() if c.tag in tags]
    try:
        picked = commits.select(candidates, tags, spec, framework, pinned=pinned, installs=installs)
    except ValueError as exc:
        hint = " (`mlxbench history --timeline --framework torch`)" if pinned and framework == "torch" else ""
        raise UsageError(f"{exc}{hint}") from None
    if not picked.commits:
        raise UsageError(
            f"nothing to run: no {'' if framework == 'all' else framework + ' '}commit in "
            f"{spec or 'the timeline'} installs here ({'; '.join(skip_lines(picked.skipped)) or 'none in range'})"
        )
    check_backends(framework, backends, metric)
    if every_commit and metric != "instructions":
        raise UsageError("--every-commit is for counted histories (--metric instructions): time is measured everywhere")
    info = asv_run.machine_for(project, selection.machine)
    return HistoryPlan(
        project,
        framework,
        picked,
        list(selection.ops),
        backends,
        unavailable,
        project.series_names,
        info,
        rerun,
        metric=metric,
        every_commit=every_commit,
    )


ROUNDS = 2
"""Rounds per commit, interleaved across commits (ASV runs the second round's commits in reverse order).

Three rounds were tried (docs/measurements): the history took 107 min instead of 65 and its torch controls
were no steadier, so two it is."""


def asv_command(
    p: HistoryPlan, hashfile: Path, counts: Sequence[tuple[Backend, Sequence[Op]]] | None = None
) -> list[str]:
    """The ``asv run`` of the plan's commits (listed in ``hashfile``), in ASV's own environments.

    Time benchmarks only, in :data:`ROUNDS` interleaved rounds: each round
    visits every commit, so a slow minute touches every release a little
    instead of one release a lot (``--quick``: one round of one sample). The
    rounds share the sampling time of one (:data:`~mlxbench.harness.asv_suite.ROUNDS_ENV`).
    A counted history (``instructions``) runs the counted kinds in one round: a count does not vary;
    ``counts`` narrows it to those backends' ops (a :class:`~.counted_commits.CountGroup`'s).
    """
    kinds = benchmark_names.COUNTED if p.counted else (benchmark_names.TIME,)
    rounds = [] if p.counted else ["--interleave-rounds", "-a", f"rounds={ROUNDS}"]
    blocks = [(list(ops), [b]) for b, ops in counts] if counts is not None else [(p.ops, p.backends)]
    selected = [
        arg
        for ops, backends in blocks
        for arg in ("-b", benchmark_names.selection_regex(ops, backends, kinds=kinds, skip=p.skip))
    ]
    return [
        asv_run.ASV,
        "run",
        "--config",
        str(p.config),
        f"HASHFILE:{hashfile}",
        "--machine",
        p.machine["machine"],
        *selected,
        "--show-stderr",
        "--record-samples",
        *([] if p.rerun or p.quick else ["--skip-existing-successful"]),  # a trial run always measures
        *(["--quick"] if p.quick else rounds),
        *asv_run.LAUNCH,
    ]


def count_groups(p: HistoryPlan) -> list[counted_commits.CountGroup]:
    """A counted plan's ``asv run`` s: each backend only at the commits where its count can move
    (:mod:`.counted_commits`; ``every_commit``: everywhere)."""
    neutral = {
        b.name: counted_commits.compile_neutral(p.results_dir, p.ops, b)
        for b in p.backends
        if b.compiled and not p.every_commit
    }
    return counted_commits.groups(
        p.picked.commits, p.ops, p.backends, p.mode == PINNED, neutral, every_commit=p.every_commit
    )


def _download_note(mode: str, environ: Mapping[str, str]) -> str | None:
    """Timeline mode installs each commit's torch; on Linux x86-64 the index's wheels are CUDA builds of GBs."""
    if mode != TIMELINE or sys.platform != "linux" or platform.machine() != "x86_64":
        return None
    if environ.get("MLXBENCH_TORCH_INDEX") or environ.get("MLXBENCH_TORCH_INSTALL") == "never":
        return None
    return (
        "note: timeline mode installs each commit's torch from the package index, a CUDA build of several GB on "
        "Linux x86-64; MLXBENCH_TORCH_INDEX=https://download.pytorch.org/whl/cpu takes the CPU builds"
    )


def _result_files(machine_dir: Path) -> dict[str, int]:
    """File name -> modification time of each result file in a machine's folder (to tell new results from kept)."""
    return {p.name: p.stat().st_mtime_ns for p in files.result_files(machine_dir)}


def _has_measurement(path: Path) -> bool:
    """Whether an ASV result file holds at least one number (a release that did not install leaves none)."""
    try:
        return files.holds_measurement(files.read_result(path))
    except ValueError:
        return False


NOT_COUNTED = "not counted: no selected backend's count can move there (--every-commit counts it)"


def outcomes(p: HistoryPlan, before: Mapping[str, int], not_run: Collection[str] = ()) -> list[tuple[str, str]]:
    """(tag, what happened) for each selected commit and series, from the machine's folder before and after.

    ``not_run``: the hashes a counted history left out (:data:`NOT_COUNTED`).
    """
    now = _result_files(p.machine_dir)
    out = []
    for s in p.picked.commits:
        for env in p.series:
            name = f"{s.hash[:8]}-{env}.json"
            where = f" [{env}]" if len(p.series) > 1 else ""
            if s.hash in not_run:
                status = NOT_COUNTED
            elif name not in now:
                status = "no result: ASV did not measure it (see its output above)"
            elif before.get(name) == now[name]:
                status = "kept: already measured here (--rerun measures again)"
            elif _has_measurement(p.machine_dir / name):
                status = "measured"
            else:
                status = "failed: no successful measurement (see ASV's output above)"
            out.append((s.tag + where, status))
    return out


def skip_lines(skipped: Sequence[tuple[str, str]]) -> list[str]:
    """Left-out commits grouped by reason: ``has no wheel here: v0.0.2, v0.0.3, ...`` (one line per reason)."""
    groups: dict[str, list[str]] = {}
    for tag, reason in skipped:
        groups.setdefault(re.sub(r"^(mlx|torch) \d\S* ", "release ", reason), []).append(tag)
    return [f"{reason}: {', '.join(tags)}" for reason, tags in groups.items()]


def _whose(framework: str) -> str:
    return "commit(s) of either framework" if framework == "all" else f"{framework} commit(s)"


def _already_measured(p: HistoryPlan) -> list[str]:
    """The selected commits this machine already has a measurement for in every series of the run."""
    return [
        s.tag
        for s in p.picked.commits
        if all(_has_measurement(p.machine_dir / f"{s.hash[:8]}-{env}.json") for env in p.series)
    ]


def describe(p: HistoryPlan) -> str:
    """What a run would do, for ``--dry-run``: the commits (those it would keep, too), those left out and why, and
    ASV's command; it writes nothing."""
    kept = [] if p.rerun else _already_measured(p)
    lines = [
        f"would run {len(p.picked.commits)} {_whose(p.framework)} on {p.machine['machine']!r}, "
        f"preset {p.preset!r}, {p.mode} mode, series {', '.join(p.series)}, results in {p.results_dir}:",
        "  " + ", ".join(s.tag for s in p.picked.commits),
        *(
            [f"  already measured here, kept benchmark by benchmark (--rerun measures again): {', '.join(kept)}"]
            if kept
            else []
        ),
        *(f"  left out, {line}" for line in skip_lines(p.picked.skipped)),
        *([note] if (note := _download_note(p.mode, os.environ)) else []),
    ]
    if not p.counted:
        command = asv_command(p, Path("<file of their hashes>"))
        return "\n".join([*lines, "after verifying each backend, with: " + " ".join(shlex.quote(a) for a in command)])
    lines.append("after verifying each backend, counting each backend only where its count can move:")
    for group in count_groups(p):
        command = asv_command(p, Path("<file of their hashes>"), group.counts)
        lines += [f"  {group.describe()}", "    " + " ".join(shlex.quote(a) for a in command)]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def summary(
    p: HistoryPlan, before: Mapping[str, int], asv_seconds: float, total_seconds: float, not_run: Collection[str] = ()
) -> str:
    """What ran, what was kept or failed, what was left out and why, and the wall time (``not_run``: as
    :func:`outcomes`)."""
    mode = (
        f"pinned mode: torch {', '.join(p.project.pinned_torch)} at every commit"
        if p.mode == PINNED
        else "timeline mode: each commit's own torch"
    )
    lines = [
        f"mlxbench history on {p.machine['machine']!r}, preset {p.preset!r}, {_whose(p.framework)}, {mode}, "
        f"series {', '.join(p.series)}, results in {p.results_dir}",
    ]
    by_status: dict[str, list[str]] = {}
    for tag, status in outcomes(p, before, not_run):
        by_status.setdefault(status, []).append(tag)
    lines += [f"  {status}: {', '.join(tags)}" for status, tags in by_status.items()]
    lines += [f"  left out, {line}" for line in skip_lines(p.picked.skipped)]
    lines.append(f"wall time: {_duration(asv_seconds)} in asv run, {_duration(total_seconds)} with verification")
    return "\n".join(lines)


@dataclass(frozen=True)
class HistoryOutcome:
    """What :func:`run` did: ASV's exit status and, when ASV ran, the plan as run and its :func:`summary`."""

    code: int
    plan: HistoryPlan | None = None
    """The plan as run (its backends: those that passed verification); None when every one failed it."""
    summary: str = ""


def run(p: HistoryPlan, say: asv_run.Say = asv_run.unheard, call: Callable[..., int] = lock.call) -> HistoryOutcome:
    """Verify, then run ASV over a :func:`plan` and summarize what it did (a dry run is :func:`describe`).

    ``say`` hears the progress; ``call`` runs ASV (the tests' fake stands in for it).
    """
    started = time.monotonic()
    passed = verified.passing(p.ops, p.preset, p.backends, say)
    if not passed.backends:
        say("nothing timed: every selected backend failed verification")
        return HistoryOutcome(1)
    check_backends(p.framework, passed.backends, p.metric)
    p = replace(p, backends=passed.backends, skip=passed.failed)
    machine.save(p.machine)
    say(
        f"history of {len(p.picked.commits)} commit(s) ({', '.join(s.tag for s in p.picked.commits)}) "
        f"on {p.machine['machine']!r}, preset {p.preset!r}, {p.mode} mode, series {', '.join(p.series)}, "
        f"results in {p.results_dir}"
        + (", counting instructions under valgrind" if p.counted else "")
        + ("" if p.rerun else " (results already there are kept: --rerun)")
    )
    env = {**os.environ, PRESET_ENV: p.preset, **({} if p.quick or p.counted else {ROUNDS_ENV: str(ROUNDS)})}
    if p.counted:  # a count needs no quiet machine: no wait after each install
        env[load.SETTLE_ENV] = "0"
    if note := _download_note(p.mode, env):
        say(note)
    before = _result_files(p.machine_dir)
    groups = count_groups(p) if p.counted else []
    for group in groups if len(groups) > 1 else []:
        say(f"counting {group.describe()}")
    runs = [(g.hashes, g.counts) for g in groups] if p.counted else [(p.picked.hashes, None)]
    code = 0
    with tempfile.TemporaryDirectory(prefix="mlxbench-history-") as tmp:
        asv_started = time.monotonic()
        for n, (hashes, counts) in enumerate(runs):
            hashfile = Path(tmp) / f"commits-{n}.txt"
            hashfile.write_text("".join(h + "\n" for h in hashes))
            asv = quiet.AsvRun(asv_command(p, hashfile, counts), call, p.config.parent, env, counted=p.counted)
            ran = quiet.run(asv, p.machine_dir)
            code = code or ran
        asv_seconds = time.monotonic() - asv_started
    not_run = set(p.picked.hashes) - {h for g in groups for h in g.hashes} if p.counted else set()
    return HistoryOutcome(code, p, summary(p, before, asv_seconds, time.monotonic() - started, not_run))
