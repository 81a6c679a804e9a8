"""``mlxbench history``: this machine's history, measured only where it can step.

``asv run ALL`` over the stack timeline installs and measures every one of its
commits (86), though a benchmark's history steps only where its framework
changed, a release with no wheel here leaves a file of n/a, and on a host that
pins torch every torch commit measures that same torch again. So this command
runs the commits :func:`mlxbench.history.commits.select` keeps: in the range,
where the chosen framework changed, whose release installs here (a pinned host:
MLX commits only, by default). They go to one ``asv run HASHFILE:<file>`` in
ASV's own virtualenvs (one per series, each commit's release installed by the
install step), with ASV's progress, on this machine (``--machine``), with
samples recorded, the Linux launch method, only the selected ops on the
backends this machine has, and what is already measured kept
(``--skip-existing-successful``, unless ``--rerun``). Each backend is verified
against float64 first (in this interpreter, as ``mlxbench bench`` does), and one
that fails is not timed.

Two modes, as the install step has them: **pinned** (the preset's configuration
pins torch in the matrix: torch is the environment's at every commit) and
**timeline** (``--timeline``, or a configuration without torch in the matrix:
:func:`mlxbench.history.layout.timeline_config`, each commit's own torch). Both
write to the preset's results directory, as separate series (environment names).

The end is a summary: which commits were measured, kept or failed, which were
left out and why, and the wall time; the command (:mod:`mlxbench.commands.history`)
prints it with this machine's history table.
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlxbench.catalog.spec import Op
from mlxbench.errors import UsageError
from mlxbench.harness import benchmark_names, verified
from mlxbench.harness.asv_suite import PRESET_ENV, ROUNDS_ENV
from mlxbench.harness.backends import Backend
from mlxbench.history import asv_run, commits, layout, lock, machine, quiet
from mlxbench.stack import timeline
from mlxbench.stack.releases import Release
from mlxbench.store import files


@dataclass
class Plan:
    """One history run, decided and checked before anything is written."""

    preset: str
    mode: str
    """``pinned`` (the configuration's matrix pins torch) or ``timeline`` (each commit's own torch)."""
    framework: str
    """Whose commits run: ``mlx``, ``torch`` or ``all``."""
    config: Path
    conf: dict[str, Any]
    tags: dict[str, str]
    selection: commits.Selection
    ops: list[Op]
    backends: list[Backend]
    """The selected backends this machine has (after verification: those that passed)."""
    series: list[str]
    """The environment names ASV files this run's results under."""
    machine: dict[str, Any]
    results_dir: Path
    rerun: bool = False
    quick: bool = False
    skip: frozenset[tuple[str, str, str]] = frozenset()
    """(op, backend, dtype) verification failed: not timed (:func:`~.benchmark_names.selection_regex`)."""

    @property
    def machine_dir(self) -> Path:
        return self.results_dir / self.machine["machine"]


def series_names(conf: Mapping[str, Any]) -> list[str]:
    """The environment names ``asv run`` gives this configuration's matrix (``virtualenv-py3.11-numpy-packaging``)."""
    from asv import environment
    from asv.config import Config

    return [env.name for env in environment.get_environments(Config.from_json(dict(conf)), [])]


def check_backends(framework: str, backends: Sequence[Backend]) -> None:
    """Refuse a run whose backends cannot see the chosen framework's changes: it would measure drift only."""
    if framework == "all" or any(b.framework == framework for b in backends):
        return
    raise UsageError(
        f"none of the backends to time ({', '.join(b.name for b in backends)}) is a {framework} backend: at "
        f"{framework} commits they would measure only the machine's drift; add one with --backend "
        "or choose --framework all"
    )


def _configuration(preset: str, timeline_mode: bool, config: Path | None) -> tuple[Path, dict[str, str]]:
    """The configuration to run and the timeline's tags: the repository's (synced now) or ``config``'s as it is."""
    if config is None:
        tags = asv_run.sync_timeline(asv_run.asv_conf())
        config = layout.asv_config(preset)
        pinned = commits.pinned_torch(layout.load_conf(config))
        return (layout.timeline_config(preset) if timeline_mode or not pinned else config), tags
    config = Path(config).resolve()
    conf = layout.load_conf(config)
    tags = timeline.tags(asv_run.conf_path(conf, config.parent, "repo"))
    if timeline_mode and commits.pinned_torch(conf):
        config = layout.write_timeline_config(config, layout.timeline_dir(preset, config.parent), preset)
    return config, tags


def plan(
    preset: str,
    ops: Sequence[Op],
    backends: Sequence[Backend],
    spec: str | None = None,
    framework: str | None = None,
    timeline_mode: bool = False,
    machine_name: str | None = None,
    rerun: bool = False,
    quick: bool = False,
    config: Path | None = None,
    installs: Callable[[Release], bool] = Release.installs_here,
) -> Plan:
    """Everything the run needs, checked: raises UsageError before anything is written.

    ``config`` names another project's configuration (the tests'); its
    timeline is used as it is, and only its own commits are candidates.
    ``installs`` says whether a release has a wheel here (the tests fake it).
    """
    chosen = asv_run.runnable(backends)
    root = layout.ROOT if config is None else Path(config).resolve().parent
    config, tags = _configuration(preset, timeline_mode, config)
    if quick:
        config = layout.trial_config(config, preset, root)  # one sample: a check of the set-up, never history
    conf = layout.load_conf(config)
    pinned = bool(commits.pinned_torch(conf))
    framework = framework or ("mlx" if pinned else "all")
    candidates = [c for c in timeline.plan() if c.tag in tags]
    try:
        selection = commits.select(candidates, tags, spec, framework, pinned=pinned, installs=installs)
    except ValueError as exc:
        hint = " (`mlxbench history --timeline --framework torch`)" if pinned and framework == "torch" else ""
        raise UsageError(f"{exc}{hint}") from None
    if not selection.commits:
        raise UsageError(
            f"nothing to run: no {'' if framework == 'all' else framework + ' '}commit in "
            f"{spec or 'the timeline'} installs here ({'; '.join(skip_lines(selection.skipped)) or 'none in range'})"
        )
    check_backends(framework, chosen)
    results_dir = asv_run.conf_path(conf, config.parent, "results_dir")
    info = asv_run.machine_for(results_dir, machine_name)
    return Plan(
        preset=preset,
        mode="pinned" if pinned else "timeline",
        framework=framework,
        config=config,
        conf=conf,
        tags=tags,
        selection=selection,
        ops=list(ops),
        backends=chosen,
        series=series_names(conf),
        machine=info,
        results_dir=results_dir,
        rerun=rerun,
        quick=quick,
    )


ROUNDS = 2
"""Rounds per commit, interleaved across commits (ASV runs the second round's commits in reverse order).

Three rounds were tried (docs/measurements): the history took 107 min instead of 65 and its torch controls
were no steadier, so two it is."""


def asv_command(p: Plan, hashfile: Path) -> list[str]:
    """The ``asv run`` of the plan's commits (listed in ``hashfile``), in ASV's own environments.

    Time benchmarks only, in :data:`ROUNDS` interleaved rounds: each round
    visits every commit, so a slow minute touches every release a little
    instead of one release a lot (``--quick``: one round of one sample). The
    rounds share the sampling time of one (:data:`~mlxbench.harness.asv_suite.ROUNDS_ENV`).
    """
    return [
        asv_run.ASV,
        "run",
        "--config",
        str(p.config),
        f"HASHFILE:{hashfile}",
        "--machine",
        p.machine["machine"],
        "-b",
        benchmark_names.selection_regex(p.ops, p.backends, kinds=(benchmark_names.TIME,), skip=p.skip),
        "--show-stderr",
        "--record-samples",
        *([] if p.rerun or p.quick else ["--skip-existing-successful"]),  # a trial run always measures
        *(["--quick"] if p.quick else ["--interleave-rounds", "-a", f"rounds={ROUNDS}"]),
        *asv_run.LAUNCH,
    ]


def _download_note(mode: str, environ: Mapping[str, str]) -> str | None:
    """Timeline mode installs each commit's torch; on Linux x86-64 the index's wheels are CUDA builds of GBs."""
    if mode != "timeline" or sys.platform != "linux" or platform.machine() != "x86_64":
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


def outcomes(p: Plan, before: Mapping[str, int]) -> list[tuple[str, str]]:
    """(tag, what happened) for each selected commit and series, from the machine's folder before and after."""
    now = _result_files(p.machine_dir)
    out = []
    for s in p.selection.commits:
        for env in p.series:
            name = f"{s.hash[:8]}-{env}.json"
            where = f" [{env}]" if len(p.series) > 1 else ""
            if name not in now:
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


def _already_measured(p: Plan) -> list[str]:
    """The selected commits this machine already has a measurement for in every series of the run."""
    return [
        s.tag
        for s in p.selection.commits
        if all(_has_measurement(p.machine_dir / f"{s.hash[:8]}-{env}.json") for env in p.series)
    ]


def describe(p: Plan) -> str:
    """What a run would do, for ``--dry-run``: the commits (those it would keep, too), those left out and why, and
    ASV's command; it writes nothing."""
    kept = [] if p.rerun else _already_measured(p)
    lines = [
        f"would run {len(p.selection.commits)} {_whose(p.framework)} on {p.machine['machine']!r}, "
        f"preset {p.preset!r}, {p.mode} mode, series {', '.join(p.series)}, results in {p.results_dir}:",
        "  " + ", ".join(s.tag for s in p.selection.commits),
        *(
            [f"  already measured here, kept benchmark by benchmark (--rerun measures again): {', '.join(kept)}"]
            if kept
            else []
        ),
        *(f"  left out, {line}" for line in skip_lines(p.selection.skipped)),
        *([note] if (note := _download_note(p.mode, os.environ)) else []),
        "after verifying each backend, with: "
        + " ".join(shlex.quote(a) for a in asv_command(p, Path("<file of their hashes>"))),
    ]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def summary(p: Plan, before: Mapping[str, int], asv_seconds: float, total_seconds: float) -> str:
    """What ran, what was kept or failed, what was left out and why, and the wall time."""
    mode = (
        f"pinned mode: torch {', '.join(commits.pinned_torch(p.conf))} at every commit"
        if p.mode == "pinned"
        else "timeline mode: each commit's own torch"
    )
    lines = [
        f"mlxbench history on {p.machine['machine']!r}, preset {p.preset!r}, {_whose(p.framework)}, {mode}, "
        f"series {', '.join(p.series)}, results in {p.results_dir}",
    ]
    by_status: dict[str, list[str]] = {}
    for tag, status in outcomes(p, before):
        by_status.setdefault(status, []).append(tag)
    lines += [f"  {status}: {', '.join(tags)}" for status, tags in by_status.items()]
    lines += [f"  left out, {line}" for line in skip_lines(p.selection.skipped)]
    lines.append(f"wall time: {_duration(asv_seconds)} in asv run, {_duration(total_seconds)} with verification")
    return "\n".join(lines)


def _log(line: str) -> None:
    print(line, file=sys.stderr)


@dataclass
class Ran:
    """What :func:`run` did: ASV's exit status and, when ASV ran, the plan as run and its :func:`summary`."""

    code: int
    plan: Plan | None = None
    """The plan as run (its backends: those that passed verification); None when every one failed it."""
    summary: str = ""


def run(p: Plan, call: Callable[..., int] = lock.call) -> Ran:
    """Verify, then run ASV over a :func:`plan` (refused before anything was written) and summarize what it did.

    A dry run runs nothing: its command prints :func:`describe` instead.
    """
    started = time.monotonic()
    outcome = verified.passing(p.ops, p.preset, p.backends, _log)
    if not outcome.backends:
        _log("nothing timed: every selected backend failed verification")
        return Ran(1)
    check_backends(p.framework, outcome.backends)
    p = replace(p, backends=outcome.backends, skip=outcome.failed)
    machine.save(p.machine)
    _log(
        f"history of {len(p.selection.commits)} commit(s) ({', '.join(s.tag for s in p.selection.commits)}) "
        f"on {p.machine['machine']!r}, preset {p.preset!r}, {p.mode} mode, series {', '.join(p.series)}, "
        f"results in {p.results_dir}" + ("" if p.rerun else " (results already there are kept: --rerun)")
    )
    env = {**os.environ, PRESET_ENV: p.preset, **({} if p.quick else {ROUNDS_ENV: str(ROUNDS)})}
    if note := _download_note(p.mode, env):
        _log(note)
    before = _result_files(p.machine_dir)
    with tempfile.TemporaryDirectory(prefix="mlxbench-history-") as tmp:
        hashfile = Path(tmp) / "commits.txt"
        hashfile.write_text("".join(h + "\n" for h in p.selection.hashes))
        asv_started = time.monotonic()
        code = quiet.run(quiet.AsvRun(asv_command(p, hashfile), call, p.config.parent, env), p.machine_dir)
        asv_seconds = time.monotonic() - asv_started
    return Ran(code, p, summary(p, before, asv_seconds, time.monotonic() - started))
