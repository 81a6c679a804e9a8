"""One measurement at a time on this machine: the lock every measuring command takes.

``mlxbench bench``, ``history``, ``compare`` and ``calibrate`` hold it while
they run, and so does any ``asv run`` through this repository's configuration
(the ASV plugin, :mod:`mlxbench.history.asv_environment`): on two cores a
neighbouring benchmark makes every number of both wrong, and two ASV runs
writing one results file leave it invalid. A second run waits, saying which
run holds the machine (pid, command, since), or refuses with ``--no-wait``.

The lock is an ``flock`` on a file in the machine's temporary directory (all
clones and users of the machine share it): the kernel releases it when the
last process holding it ends, so a killed run never blocks the next one for
longer than it still measures; the holder's line left in the file tells the
next run whose lock it took over. The processes a holder starts through
:func:`call` (``asv run``) inherit the lock itself, so it stays held until
they have ended too, and they inherit :data:`HELD_ENV`, so they do not take it
again. Such a child ends with its holder: an exception in the holder (Ctrl-C,
SIGTERM) kills it, and on Linux so does the holder's ``kill -9`` (the
kernel's parent-death signal); on macOS a killed holder's ``asv run`` finishes
its benchmark, under the lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import platform
import shlex
import signal
import subprocess
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


def _alive(pid: Any) -> bool:
    """Whether a process with this pid exists (a killed holder's children may hold its lock on)."""
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


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
            log(
                f"waiting for the measurement running on this machine to finish: {describe(holder)}"
                + ("" if holder is None or _alive(holder.get("pid")) else ", whose asv run is still measuring")
            )
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
        _held_fds.append(fd)
        try:
            yield
        finally:
            _held_fds.remove(fd)
            os.environ.pop(HELD_ENV, None)
            os.ftruncate(fd, 0)  # released cleanly: nothing for the next run to call stale
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_held: list[contextlib.ExitStack] = []
_held_fds: list[int] = []


PR_SET_PDEATHSIG = 1
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if platform.system() == "Linux" else None
"""Looked up once, in the parent: a child between fork and exec must not start ldconfig to find libc."""
INTERRUPT_GRACE = 5.0
"""Seconds an interrupted asv run gets to end its benchmark processes (its own process group) before a kill."""


def _child_setup(parent: int) -> Callable[[], None]:
    """In the child, before exec: SIGINT as a terminal's (a run started in the background ignores it, and the child
    would inherit that); on Linux, SIGTERM when ``parent`` dies (even by ``kill -9``), or now if it already has."""

    def preexec() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if _PRCTL is None:
            return
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request: nobody will send it
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def call(command: Sequence[str], **kwargs: Any) -> int:
    """``subprocess.call`` that hands this process's lock to the child, which ends with this process.

    When waiting raises (Ctrl-C, or SIGTERM turned into an exception by the
    command line), the child gets SIGINT, as from a terminal, so ASV ends its
    benchmark processes (their own process group) too; after
    :data:`INTERRUPT_GRACE` seconds it is killed. The child takes SIGINT even
    where this process was started ignoring it (in the background, by a
    script), so it ends as from Ctrl-C, its temporary files removed. On Linux
    the child also gets SIGTERM when this process is killed outright. A child
    that SIGINT ended (this process missed it) raises KeyboardInterrupt here:
    what it left unfinished is not to be stored or measured again.
    """
    preexec = _child_setup(os.getpid())
    with subprocess.Popen(list(command), pass_fds=tuple(_held_fds), preexec_fn=preexec, **kwargs) as proc:
        try:
            code = proc.wait()
            if code == -signal.SIGINT:
                raise KeyboardInterrupt
            return code
        except BaseException:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=INTERRUPT_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise


def hold_for_process(command: Sequence[str]) -> None:
    """Take the lock until this process exits (the ASV plugin, for a plain ``asv run``)."""
    stack = contextlib.ExitStack()
    stack.enter_context(measuring(command))
    _held.append(stack)
