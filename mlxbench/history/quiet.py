"""Quiet results: an ``asv run`` whose benchmarks sampled on a busy machine measures them again once it is quiet.

Every benchmark process writes how busy the machine was while it sampled
(:mod:`mlxbench.harness.load`). After ASV's run, the benchmarks that sampled
on a busy machine are measured again, commit by commit, once the machine reads
quiet: at most :data:`RETRIES` times, each after waiting at most
:data:`WAIT_SECONDS`, all said on screen. What is still busy after that is
kept and *marked*: the reports never call a change from it. Each result's load
(the latest measurement of every benchmark, commit, series and variant) is kept
in the machine folder's :data:`~mlxbench.store.loads.LOAD_FILE`.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlxbench.harness import load
from mlxbench.store import files, loads
from mlxbench.store.loads import Key

RETRIES = 2
WAIT_SECONDS = 120.0
"""The longest wait for a quiet machine before each re-measurement (then it measures anyway, and marks)."""
WAIT_ENV = "MLXBENCH_QUIET_WAIT"
"""Overrides :data:`WAIT_SECONDS` (seconds; the tests use a short one)."""


def wait_limit() -> float:
    """:data:`WAIT_SECONDS`, or :data:`WAIT_ENV` where it is a number of seconds >= 0."""
    try:
        value = float(os.environ.get(WAIT_ENV, ""))
    except ValueError:
        return WAIT_SECONDS
    return value if value >= 0 else WAIT_SECONDS


@dataclass(frozen=True)
class Reading:
    """One result's load over all its rounds: the worst round's others and steal (cores), and whether it is busy."""

    others: float
    steal: float
    seconds: float
    rounds: int
    busy: bool
    judged: bool = True
    """Whether every round's window was long enough to judge (else ``busy`` is False for want of evidence)."""


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def readings(
    records: Iterable[load.Record], commit: str | None = None, series: str | None = None
) -> dict[Key, Reading]:
    """The records of one pass grouped by result (a round each); ``commit``/``series`` stand in where ASV gave none."""
    grouped: dict[Key, list[load.Record]] = {}
    for r in records:
        key = (r.commit or commit or "", r.env or series or "", r.benchmark, r.variant)
        grouped.setdefault(key, []).append(r)
    return {
        key: Reading(
            others=max(r.others for r in rs),
            steal=max(r.steal for r in rs),
            seconds=round(sum(r.seconds for r in rs), 4),
            rounds=len(rs),
            busy=any(r.busy for r in rs),
            judged=all(r.judged for r in rs),
        )
        for key, rs in grouped.items()
    }


def busy_benchmarks(found: Mapping[Key, Reading]) -> dict[str, set[str]]:
    """commit -> the benchmarks (ASV names) with at least one busy variant there."""
    out: dict[str, set[str]] = {}
    for (commit, _series, benchmark, _variant), reading in found.items():
        if reading.busy:
            out.setdefault(commit, set()).add(benchmark)
    return out


def _said(quiet: bool, waited: float, last: load.Load | None, after: str) -> str:
    """One line on a wait for a quiet machine: how it ended, the last window's load, and ``after`` if still busy."""
    return (
        f"mlxbench: {'quiet' if quiet else 'still busy'} after {waited:.0f} s"
        + (f" (others {last.others:.2f} cores, steal {last.steal:.2f})" if last else "")
        + ("" if quiet else f": {after}")
    )


def before_round(wait: Callable[[float], tuple[bool, float, load.Load | None]] = load.wait_until_quiet) -> None:
    """Wait (at most :func:`wait_limit`) until the machine reads quiet, saying so when it had to wait."""
    quiet, waited, last = wait(wait_limit())
    if waited > 1.0 or not quiet:
        _log(_said(quiet, waited, last, "measuring anyway"))


def narrowed(command: Sequence[str], commit: str, benchmarks: Iterable[str]) -> list[str]:
    """``command`` (an ``asv run``) for one commit and these benchmarks only, measured again (nothing skipped).

    Within the command's own ``-b``: a variant it left out (one that failed verification) stays out.
    """
    regex = "^(" + "|".join(re.escape(b) for b in sorted(benchmarks)) + r")(?:\(|$)"
    out: list[str] = []
    args = iter(command)
    for arg in args:
        if arg in ("--skip-existing-successful", "--skip-existing-commits", "--skip-existing", "--interleave-rounds"):
            continue
        if arg == "-b":
            out += ["-b", f"(?={next(args)}){regex}"]
        elif arg.startswith("HASHFILE:") or arg.endswith("^!"):
            out.append(f"{commit}^!")
        else:
            out.append(arg)
    return out


@dataclass(frozen=True)
class AsvRun:
    """An ``asv run`` and how to start it: the command, the caller, its directory and environment.

    ``commit`` and ``series`` name the results where ASV does not tell the
    benchmark processes (the main job's installed environment). ``counted``:
    it runs counted benchmarks only, whose results need no load check.
    """

    command: Sequence[str]
    call: Callable[..., int]
    cwd: Path
    env: Mapping[str, str]
    commit: str | None = None
    series: str | None = None
    counted: bool = False

    def measured(self, directory: Path, command: Sequence[str] | None = None) -> tuple[int, dict[Key, Reading]]:
        """Run ``command`` (default: this run's) with its benchmarks' load written into ``directory``:
        (exit status, readings)."""
        directory.mkdir(parents=True)
        code = self.call(
            list(self.command if command is None else command),
            cwd=self.cwd,
            env={**self.env, load.LOAD_DIR_ENV: str(directory)},
        )
        return code, readings(load.collect(directory), self.commit, self.series)


def run(
    asv: AsvRun,
    machine_dir: Path,
    wait: Callable[[float], tuple[bool, float, load.Load | None]] = load.wait_until_quiet,
) -> int:
    """Run ``asv`` with load recording, re-measure what sampled busy, store every reading in ``machine_dir``.

    Returns the first run's exit status, or a re-measurement's where that one failed. A result file left
    truncated (by an earlier run killed mid-write, or this one) is set aside with a message before and after.
    Interrupted, the files it rewrote are written back as they were, unchecked timings being no results; a counted
    run keeps the commits it finished (ASV saves a commit's file when its benchmarks end) and a count needs no check.
    """
    files.set_aside_unreadable(machine_dir)
    before = {path: path.read_text() for path in files.result_files(machine_dir)}
    try:
        with tempfile.TemporaryDirectory(prefix="mlxbench-load-") as tmp:
            code, found = asv.measured(Path(tmp) / "0")
            again = remeasure(found, asv, Path(tmp), wait=wait)
    except KeyboardInterrupt:
        if asv.counted:
            restore(before, only_unreadable=True)
            now = files.result_files(machine_dir)
            if kept := [path for path in now if path not in before or _rewritten(path, before[path])]:
                _log(f"mlxbench: interrupted: the counts of the {len(kept)} commit(s) it had finished are kept")
        elif restored := restore(before):
            _log(
                f"mlxbench: interrupted before its results were checked for load: {len(restored)} result file(s) "
                f"it had rewritten are back as they were ({', '.join(p.name for p in restored[:3])}"
                f"{' ...' if len(restored) > 3 else ''})"
            )
        raise
    finally:
        files.set_aside_unreadable(machine_dir)
    store(machine_dir, found)
    return code or again


def _rewritten(path: Path, content: str) -> bool:
    try:
        return path.read_text() != content
    except (OSError, UnicodeDecodeError):
        return True


def restore(before: Mapping[Path, str], only_unreadable: bool = False) -> list[Path]:
    """Write back each result file whose text differs from ``before`` (an interrupted run's rewrites); those paths.

    ``only_unreadable``: only those left unreadable (cut off mid-write, or gone). Files the run created are
    kept: they damage nothing that was there.
    """
    restored = []
    for path, content in before.items():
        if _rewritten(path, content) and not (only_unreadable and files.unreadable(path) is None):
            files.write_atomic(path, content)
            restored.append(path)
    return restored


def remeasure(
    found: dict[Key, Reading],
    asv: AsvRun,
    work: Path,
    retries: int = RETRIES,
    wait: Callable[[float], tuple[bool, float, load.Load | None]] = load.wait_until_quiet,
) -> int:
    """Measure what ``found`` says sampled busy again, commit by commit, once quiet; update ``found`` in place.

    At most ``retries`` passes, each after waiting (at most :func:`wait_limit`)
    for a quiet machine; what is still busy then stays marked. ``work`` holds
    the passes' load directories. Returns 0, or the first failing pass's status.
    """
    wait_seconds = wait_limit()
    code = 0
    for attempt in range(1, retries + 1):
        busy = busy_benchmarks(found)
        if not busy:
            break
        count = sum(len(b) for b in busy.values())
        _log(
            f"mlxbench: {count} benchmark(s) at {len(busy)} commit(s) sampled while other processes used the "
            f"machine (more than {load.BUSY_CORES:g} cores): waiting for it to be quiet (at most "
            f"{wait_seconds:.0f} s), then measuring them again (try {attempt} of {retries})"
        )
        _log(_said(*wait(wait_seconds), "measuring anyway; what reads busy again is kept and marked"))
        for n, (at, benchmarks) in enumerate(sorted(busy.items())):
            again_code, again = asv.measured(Path(work) / f"{attempt}-{n}", narrowed(asv.command, at, benchmarks))
            code = code or again_code
            for key in [k for k in found if k[0] == at and k[2] in benchmarks]:
                del found[key]  # every variant of a benchmark run again is replaced, busy or not
            found.update(again)
    marked = sorted({f"{k[2]}({k[3]})" for k, r in found.items() if r.busy})
    if marked:
        _log(
            f"mlxbench: {len(marked)} result(s) stayed busy after {retries} re-measurement(s); kept and marked "
            f"(never used to call a change): {', '.join(marked[:8])}{' ...' if len(marked) > 8 else ''}"
        )
    return code


def store(machine_dir: Path, found: Mapping[Key, Reading]) -> None:
    """Merge this run's readings into the machine folder's load file (the latest reading wins)."""
    loads.merge(
        machine_dir,
        {
            key: {
                "others": r.others,
                "steal": r.steal,
                "seconds": r.seconds,
                "rounds": r.rounds,
                "busy": r.busy,
                "judged": r.judged,
            }
            for key, r in found.items()
        },
    )
