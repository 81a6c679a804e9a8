"""Instructions and simulated cache misses of one warm call, counted by valgrind's callgrind.

Counting processes run under ``valgrind --tool=callgrind --instr-atstart=no``
(:func:`valgrind_command`; the launch is :mod:`mlxbench.history.asv_launch`'s):
nothing is counted until :func:`count` switches instrumentation on around one
call of the timed body, then dumps the counters under a name and reads them
back from the dump. The client requests are pytest-codspeed's native hooks.
Several processes share a run's variants through files in :data:`OUT_DIR_ENV`:
each claims a variant before counting it and stores its outcome for all.
Why counts and what they cannot see: docs/method.md, "Counted instructions".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import os
import platform
import shutil
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUT_DIR_ENV = "MLXBENCH_CALLGRIND_DIR"
"""Set in a process that valgrind runs for mlxbench: where its dumps and this run's counts go."""
INSTALL_LINE = (
    "counted benchmarks need valgrind and mimalloc: install them "
    "(Debian/Ubuntu: sudo apt-get install valgrind libmimalloc2.0)"
)
NOT_UNDER_VALGRIND = (
    "counted benchmarks run only under valgrind, which mlxbench's ASV launch starts for them "
    "(mlxbench bench --metric instructions, or asv run -b track_instructions through this repository's asv.conf.json)"
)
CACHES = {"I1": (32768, 8, 64), "D1": (32768, 8, 64), "LL": (33554432, 16, 64)}
"""The simulated caches (size, ways, line bytes), the same on every host so that counts compare across hosts."""
L1_MISS_CYCLES = 10
LL_MISS_CYCLES = 100
"""The cycle estimate's weights, KCachegrind's: instructions + 10 x L1 misses + 100 x LL misses."""
CHANGE = 0.001
"""A count that moves by more than this share, and by more than :data:`MIN_CHANGE` instructions, is a change."""
MIN_CHANGE = 5_000
"""Instructions: a call's fixed part (the dispatch, MLX's worker thread) moves by tens between environments, and
by hundreds to thousands under earlier methods: over 0.1% of a small call (docs/method.md, "Counted instructions")."""


def changed(before: float, after: float) -> bool:
    """Whether a count moved from ``before`` to ``after`` beyond :data:`CHANGE` and :data:`MIN_CHANGE`."""
    return abs(after - before) > MIN_CHANGE and abs(after - before) > CHANGE * before


METHOD_REVISIONS = {"mlx": 7, "torch": 5}
"""Per framework, bumped when what its counts measure changes: the counted benchmarks' versions carry it, so older
counts are not compared with newer (mlx 7: a small call repeated up to 5 M instructions, not 20 M; mlx 6, torch 5:
the allocators' own instructions left out, and a call under :data:`REPEAT_BELOW` counted over many calls; mlx 5: each
worker alone on one CPU at real-time priority, so MLX's calling thread and stream thread take turns the same way every
time; 4: mimalloc in counting processes; 3: jemalloc; 2: glibc without its fast bins and per-thread caches; 1: a count
after an instrumented warm call)."""
REPEAT_BELOW = {"mlx": 5_000_000, "torch": 20_000_000}
"""Instructions, per framework: a call that counts fewer is counted again, as ``ceil(REPEAT_BELOW / its count)`` calls
in one region (at most :data:`MAX_CALLS`), and its instructions are that region's per call. MLX's calling and stream
threads take turns a little differently from call to call (up to about 1,100 instructions); over the calls of one
region that is under 0.03% (docs/measurements/counted-allocator-excluded-2026-12-07.md). MLX's is 5 M, a quarter of
the first choice, for the history's cost; torch's stays at 20 M, where its control was counted (a pinned torch is
counted once per build)."""
MAX_CALLS = 1_000
"""The most calls one repeated count makes (an empty body would otherwise be called millions of times)."""
UNCOUNTED_FUNCTIONS = frozenset({"_PyObject_Malloc", "_PyObject_Free", "_PyObject_Realloc", "_PyObject_Calloc"})
"""Python's small-object allocator: like the preloaded allocator's (:data:`ALLOCATOR`), its own instructions and
misses are left out of a count. Which free block a call finds, and how far it searches, depends on everything the
process allocated before, and that differs from one environment to the next by hundreds of instructions of a small
call; it is not the op's work, and the allocator counted is not the one users run."""
WARMUP_CALLS = 2
"""Calls of every counted body before its count, outside the instrumentation, whatever they take: the same
process state at every count (the time benchmarks' warm-up stops after a number of calls that depends on speed)."""
ALLOCATOR = "libmimalloc.so.2"
"""The allocator counting processes preload (Debian's ``libmimalloc2.0``): its allocations, aligned ones included,
come from size classes and page-aligned blocks, so a call's allocator work and its buffers' offsets do not depend on
where earlier allocations landed (glibc's work did; jemalloc moves each large block by a pseudo-random number of cache
lines, which changed memcpy's path: docs/measurements/counted-allocators-2026-12-07.md)."""
ALLOCATOR_ENV = {"MIMALLOC_ALLOW_DECOMMIT": "0", "MIMALLOC_EAGER_COMMIT_DELAY": "0"}
"""mimalloc's settings there: no memory returned on a timer, and every segment committed when it is mapped, so
neither lands inside some counted calls and not others."""
_EVENTS = ("Ir", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw")


@dataclass(frozen=True)
class Counts:
    """What callgrind counted for one call."""

    instructions: int
    l1_misses: int
    """Simulated first-level misses, instruction and data (reads and writes)."""
    ll_misses: int
    """Simulated last-level misses, instruction and data: the accesses that would go to memory."""

    @property
    def cycles(self) -> int:
        """KCachegrind's estimate: ``instructions + 10 * l1_misses + 100 * ll_misses``."""
        return self.instructions + L1_MISS_CYCLES * self.l1_misses + LL_MISS_CYCLES * self.ll_misses

    def as_line(self) -> str:
        return f"{self.instructions} {self.l1_misses} {self.ll_misses}"

    @classmethod
    def from_line(cls, line: str) -> Counts:
        instructions, l1, ll = (int(x) for x in line.split())
        return cls(instructions, l1, ll)

    @classmethod
    def from_totals(cls, totals: Mapping[str, int]) -> Counts:
        """From a dump's events: ``Ir``, and the ``I1mr D1mr D1mw`` / ``ILmr DLmr DLmw`` miss counts."""
        return cls(
            totals["Ir"],
            totals["I1mr"] + totals["D1mr"] + totals["D1mw"],
            totals["ILmr"] + totals["DLmr"] + totals["DLmw"],
        )


def method_revision(framework: str) -> int:
    """The counting method's revision for ``framework``'s backends (:data:`METHOD_REVISIONS`)."""
    return METHOD_REVISIONS[framework]


REALTIME_PRIORITY = 1
"""SCHED_FIFO priority of a counting worker: above every ordinary process, so none preempts it on its CPU."""
NOT_REALTIME = "the counts of MLX calls under a few million instructions may move by up to about 2,000 instructions"
"""What counting without real-time priority costs (:func:`realtime_refused`)."""
RT_RUNTIME = Path("/proc/sys/kernel/sched_rt_runtime_us")
"""Linux's cap on real-time processes' share of each CPU (default 95%); -1 removes the cap."""


def realtime_refused() -> str | None:
    """Why counting workers cannot run at real-time priority here, or None where they can (and do).

    Under valgrind one thread runs at a time; where another process can preempt a
    worker, or MLX's woken stream thread preempts the thread that woke it, the two
    take turns differently from run to run, and a small MLX call's count moves by
    up to about 2,000 instructions (docs/measurements/counted-scheduling-2026-12-07.md).
    Refused where a thread may not take it (tried), and where Linux does not cap
    real-time processes: there a worker could hold its CPU whole.
    """
    if not hasattr(os, "sched_setscheduler"):
        return "no real-time scheduling on this system"
    try:
        if int(RT_RUNTIME.read_text()) < 0:
            return f"{RT_RUNTIME} is -1: real-time processes are not capped here"
    except (OSError, ValueError):
        return f"cannot read {RT_RUNTIME}"
    refused: list[str] = []

    def probe() -> None:  # a thread of its own: the policy is per thread, and this one ends here
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
        except PermissionError:
            refused.append("real-time priority needs root, CAP_SYS_NICE or `ulimit -r 1`")

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return refused[0] if refused else None


def tools_missing() -> str | None:
    """Why this machine cannot count (no valgrind, no mimalloc), and how to install them; None if it can."""
    if platform.system() != "Linux":
        return "counted benchmarks need valgrind, which runs on Linux only"
    if shutil.which("valgrind") is None or ctypes.util.find_library("mimalloc") != ALLOCATOR:
        return INSTALL_LINE
    return None


def missing() -> str | None:
    """Why this process cannot count (no Linux, valgrind, mimalloc or hooks), with how to fix it; None if it can."""
    if (reason := tools_missing()) is not None:
        return reason
    try:
        _hooks_module()
    except ImportError as exc:
        return f"counted benchmarks need pytest-codspeed's hooks (pip install pytest-codspeed==5.0.4): {exc}"
    return None


def worker_env() -> dict[str, str]:
    """Environment variables of every counting process: the same dict orders and allocator in each."""
    return {"PYTHONHASHSEED": "0", "LD_PRELOAD": ALLOCATOR, **ALLOCATOR_ENV}


def valgrind_command(out_dir: Path) -> list[str]:
    """valgrind's command line, instrumentation off until a call is counted, dumps and log files in ``out_dir``."""
    caches = [f"--{name}={','.join(str(x) for x in geometry)}" for name, geometry in CACHES.items()]
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--cache-sim=yes",
        *caches,
        "--dump-line=no",
        "--compress-strings=no",
        f"--callgrind-out-file={out_dir}/callgrind.out.%p",
        f"--log-file={out_dir}/valgrind.%p.log",
    ]


def _hooks_module() -> Any:
    # pytest-codspeed's package imports pytest; only its native client requests are used
    from pytest_codspeed.instruments.hooks import dist_instrument_hooks

    return dist_instrument_hooks


class Callgrind:
    """Callgrind's client requests in this process: zero and start, stop, dump under a name."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._hooks = _hooks_module()
        self._instance = self._hooks.instrument_hooks_init()
        if not self._hooks.instrument_hooks_is_instrumented(self._instance):
            raise RuntimeError(NOT_UNDER_VALGRIND)

    def start(self) -> None:
        self._hooks.instrument_hooks_start_benchmark(self._instance)

    def stop(self) -> None:
        self._hooks.instrument_hooks_stop_benchmark(self._instance)

    def dump(self, label: str) -> Counts:
        """Dump the counters since :meth:`start` under ``label``; read them back and delete the dump."""
        pid = os.getpid()
        before = set(self.out_dir.glob(f"callgrind.out.{pid}.*"))
        self._hooks.instrument_hooks_set_executed_benchmark(self._instance, pid, label.encode("ascii", "replace"))
        (dump,) = set(self.out_dir.glob(f"callgrind.out.{pid}.*")) - before
        try:
            return read_counts(dump.read_text())
        finally:
            dump.unlink()


def _uncounted(obj: str, function: str) -> bool:
    """Whether a function of a dump is an allocator's (:data:`ALLOCATOR`'s object, :data:`UNCOUNTED_FUNCTIONS`)."""
    return Path(obj).name.startswith(ALLOCATOR) or function in UNCOUNTED_FUNCTIONS


def _own_costs(text: str, events: list[str]) -> dict[str, int]:
    """The own costs of every function in ``text`` (lines of a dump), summed per event.

    A function's own cost lines follow its ``fn=`` line; the line after ``calls=``
    is the inclusive cost of a call it makes, counted in the callee already.
    """
    totals = dict.fromkeys(_EVENTS, 0)
    after_calls = False
    for line in text.splitlines():
        if line.startswith("calls="):
            after_calls = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            if after_calls:
                after_calls = False
            else:
                for event, cost in zip(events, line.split()[1:]):
                    if event in totals:
                        totals[event] += int(cost)
    return totals


def _uncounted_text(dump: str) -> str:
    """The parts of a dump that hold the allocators' functions (:func:`_uncounted`), each from its ``fn=`` line.

    Written with ``--compress-strings=no``, a dump names each object on an ``ob=``
    line before its functions, and each function on its ``fn=`` line.
    """
    parts: list[str] = []
    for section in dump.split("\nob=")[1:]:
        obj, _, functions = section.partition("\n")
        if _uncounted(obj, ""):
            parts.append(functions)
            continue
        for name in UNCOUNTED_FUNCTIONS:
            at = functions.find(f"fn={name}\n")
            while at >= 0:
                end = functions.find("\nfn=", at + 1)
                parts.append(functions[at : None if end < 0 else end])
                at = functions.find(f"fn={name}\n", at + 1)
    return "\n".join(parts)


def read_counts(dump: str) -> Counts:
    """A callgrind dump's counts: its ``totals:`` line less the allocators' own costs (:func:`_uncounted`).

    Only the allocators' functions are read line by line: a dump holds thousands of
    lines, and the counting process reads each under valgrind.
    """
    events = next((line.split()[1:] for line in dump.splitlines() if line.startswith("events:")), None)
    totals_line = dump[dump.rfind("\ntotals:") + 1 :].partition("\n")[0] if "\ntotals:" in dump else ""
    if events is None or not totals_line:
        raise ValueError("not a callgrind dump: no events or totals line")
    totals = dict.fromkeys(_EVENTS, 0)
    for event, cost in zip(events, totals_line.split()[1:]):
        if event in totals:
            totals[event] = int(cost)
    uncounted = _own_costs(_uncounted_text(dump), events)
    return Counts.from_totals({event: totals[event] - uncounted[event] for event in _EVENTS})


@functools.cache
def _allocator_collect() -> Callable[[bool], None]:
    try:
        collect = ctypes.CDLL(None).mi_collect  # the preloaded allocator's, found among the process's symbols
    except AttributeError:
        raise RuntimeError(f"counting processes preload {ALLOCATOR} (counting.worker_env); this one does not") from None
    collect.argtypes = [ctypes.c_bool]
    collect.restype = None
    return collect


def settle_allocator() -> None:
    """Return the allocator's emptied pages to their segments (``mi_collect(true)``) before a count.

    Without it the pages a call's allocations find free depend on what the process
    allocated before (a few hundred instructions of a small call, from one environment
    to the next: docs/measurements/counted-allocators-2026-12-07.md).
    """
    _allocator_collect()(True)


def _count_calls(callgrind: Callgrind, body: Callable[[], Any], label: str, calls: int) -> Counts:
    """The counts of ``calls`` calls of ``body`` in one region, the allocator settled and the method cache emptied."""
    settle_allocator()
    sys._clear_type_cache()
    callgrind.start()
    for _ in range(calls):
        body()
    callgrind.stop()
    return callgrind.dump(label)


def count(callgrind: Callgrind, body: Callable[[], Any], label: str, repeat_below: int) -> Counts:
    """The counts of one call of ``body``: instrumentation on around that call alone, then, for a small call, many.

    The allocator is settled first (:func:`settle_allocator`) and the allocators'
    own work is left out (:func:`read_counts`). Switching instrumentation on empties
    the simulated caches, so the misses are a cold call's: they depend on the call
    alone, not on what ran before it. Python's method cache is emptied too: which of
    its entries collide depends on where names landed in memory. A call under
    ``repeat_below`` instructions (:data:`REPEAT_BELOW`) is counted again over many calls, and its
    instructions are those per call; its misses stay the first call's. The garbage
    collector is off around the calls, as ASV's timer turns it off around a timed
    call: a collection is not the op's work.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        first = _count_calls(callgrind, body, label, 1)
        if first.instructions >= repeat_below:
            return first
        calls = min(MAX_CALLS, -(-repeat_below // max(first.instructions, 1)))
        repeated = _count_calls(callgrind, body, label, calls)
    finally:
        if collecting:
            gc.enable()
    return Counts(round(repeated.instructions / calls), first.l1_misses, first.ll_misses)


_callgrind: list[Callgrind] = []


class CountFailed(RuntimeError):
    """Counting a variant failed in the process that claimed it (its traceback is the message)."""


def key(op: str, variant_id: str, backend: str) -> str:
    """The name a counted variant goes by in a counting run's directory (the kinds of one variant share it)."""
    return f"{op}.{variant_id}.{backend}".replace("/", "_")


def _run_dir(out_dir: Path | None) -> Path:
    return out_dir if out_dir is not None else Path(os.environ[OUT_DIR_ENV])


def outcome(key: str, out_dir: Path | None = None) -> Counts | None:
    """``key``'s counts in this counting run (``out_dir``, default :data:`OUT_DIR_ENV`'s); None if none yet.

    Raises NotImplementedError (ASV's n/a) with the reason where the variant
    cannot run here, :class:`CountFailed` where counting it failed.
    """
    out_dir = _run_dir(out_dir)
    if (stored := out_dir / f"{key}.counts").exists():
        return Counts.from_line(stored.read_text())
    if (na := out_dir / f"{key}.na").exists():
        raise NotImplementedError(na.read_text())
    if (failed := out_dir / f"{key}.error").exists():
        raise CountFailed(failed.read_text())
    return None


def claim(key: str) -> bool:
    """Whether this process now counts ``key``: the first of the run's processes to ask gets it."""
    try:
        fd = os.open(Path(os.environ[OUT_DIR_ENV]) / f"{key}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


def record_failure(key: str, reason: str, not_available: bool, out_dir: Path | None = None) -> None:
    """Store why ``key`` was not counted: n/a (the variant cannot run here) or a failure, for every reader."""
    _write(f"{key}.{'na' if not_available else 'error'}", reason, out_dir)


def _write(name: str, text: str, out_dir: Path | None = None) -> None:
    """Write a file of the run's directory whole (written aside, then renamed): no reader sees half of it."""
    path = _run_dir(out_dir) / name
    aside = path.with_name(f".{name}.{os.getpid()}")
    aside.write_text(text)
    aside.replace(path)


def counted(key: str, make_body: Callable[[], Callable[[], Any]], repeat_below: int) -> Counts | None:
    """``key``'s counts in this valgrind run: stored ones, or counted now (:func:`count`) if this process claims it.

    None where another process claimed it first. ``make_body`` prepares the
    call (inputs, warm-up); what it raises is stored for every reader and raised.
    """
    if (found := outcome(key)) is not None or not claim(key):
        return found
    try:
        body = make_body()
        if not _callgrind:
            _callgrind.append(Callgrind(Path(os.environ[OUT_DIR_ENV])))
        counts = count(_callgrind[0], body, key, repeat_below)
    except NotImplementedError as exc:
        record_failure(key, str(exc), not_available=True)
        raise
    except Exception:
        record_failure(key, traceback.format_exc(), not_available=False)
        raise
    _write(f"{key}.counts", counts.as_line())
    return counts


def under_valgrind() -> str | None:
    """None in a process mlxbench's launch runs under valgrind; otherwise why counted benchmarks are n/a here."""
    if (reason := missing()) is not None:
        return reason
    if not os.environ.get(OUT_DIR_ENV):
        return NOT_UNDER_VALGRIND
    return None
