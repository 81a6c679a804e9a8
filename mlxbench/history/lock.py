"""One measurement at a time on this machine: the lock every measuring command takes.

``mlxbench bench``, ``history``, ``compare`` and ``calibrate`` hold it while
they run, and so does any ``asv run`` through this repository's configuration
(the ASV plugin, :mod:`mlxbench.history.asv_environment`): on two cores a
neighbouring benchmark makes every number of both wrong, and two ASV runs
writing one results file leave it invalid. A second run waits, saying which
run holds the machine (pid, command, since), or refuses with ``--no-wait``.

The lock is an ``flock`` on a file in the machine's temporary directory (all
clones and users of the machine share it): the kernel releases it when its
holder dies, so a killed run never blocks the next one; the holder's line left
in the file tells the next run whose lock it took over. The processes a holder
starts (``asv run`` and its benchmarks) inherit :data:`HELD_ENV` and do not
take it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mlxbench.errors import UsageError

PATH_ENV = "MLXBENCH_LOCK_FILE"
"""Overrides the lock file (tests use one of their own)."""
HELD_ENV = "MLXBENCH_LOCK_HELD"
"""Set by the holder for the processes it starts: they measure under its lock."""


def path() -> Path:
    """The machine-wide lock file (:data:`PATH_ENV`, else ``mlxbench-measure.lock`` in the temporary directory)."""
    return Path(os.environ.get(PATH_ENV) or Path(tempfile.gettempdir()) / "mlxbench-measure.lock")


def _holder(fd: int) -> dict[str, Any] | None:
    """The holder line the file holds (the running holder's, or a dead one's), or None."""
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 4096).decode(errors="replace").strip()
    try:
        doc = json.loads(text) if text else None
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def describe(holder: dict[str, Any] | None) -> str:
    """``pid 123 (mlxbench history ...) since 2026-12-01 16:52:52 UTC``, or a plain phrase without a holder line."""
    if not holder:
        return "another run"
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(holder.get("since", 0))))
    return f"pid {holder.get('pid')} ({holder.get('command')}) since {since}"


def _log(line: str) -> None:
    print(f"mlxbench: {line}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def measuring(
    command: Sequence[str] | None = None, wait: bool = True, log: Callable[[str], None] = _log
) -> Iterator[None]:
    """Hold the machine's measurement lock for the block: wait for a running holder, or raise UsageError.

    Re-entrant within a process tree: where :data:`HELD_ENV` says an ancestor holds it, nothing is taken.
    """
    if os.environ.get(HELD_ENV):
        yield
        return
    where = path()
    where.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(where, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not wait:
                raise UsageError(
                    f"another measurement is running on this machine: {describe(holder)}; "
                    "run again without --no-wait to wait for it"
                ) from None
            log(f"waiting for the measurement running on this machine to finish: {describe(holder)}")
            started = time.monotonic()
            fcntl.flock(fd, fcntl.LOCK_EX)
            log(f"the machine is free after {time.monotonic() - started:.0f} s; starting")
        else:
            if stale := _holder(fd):
                log(f"took over the lock left by {describe(stale)}, which is no longer running")
        line = {"pid": os.getpid(), "command": shlex.join(command or sys.argv), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(line).encode() + b"\n", 0)
        os.environ[HELD_ENV] = str(os.getpid())
        try:
            yield
        finally:
            os.environ.pop(HELD_ENV, None)
            os.ftruncate(fd, 0)  # released cleanly: nothing for the next run to call stale
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_held: list[contextlib.ExitStack] = []


def hold_for_process(command: Sequence[str]) -> None:
    """Take the lock until this process exits (the ASV plugin, for a plain ``asv run``)."""
    stack = contextlib.ExitStack()
    stack.enter_context(measuring(command))
    _held.append(stack)
