"""How busy the machine was while a benchmark sampled: other processes' CPU and the hypervisor's steal.

A benchmark process reads the machine's CPU counters before its first sample
and after its samples (its setup and teardowns, outside every timed call); the
machine's busy CPU time minus this process's own is what other processes took,
and steal is what the hypervisor gave to other guests. Where the driver asks
for it (:data:`LOAD_DIR_ENV`), each benchmark process writes its reading as a
:class:`Record`, which the driver keeps beside the results
(:mod:`mlxbench.store.loads`) and uses to measure a busy benchmark again.

The threshold, :data:`BUSY_CORES`: on this project's idle 2-core virtual
machine, others' CPU read 0.00-0.02 cores in 1 s windows of an idle process,
and a median 0.05, 90th percentile 0.15 cores in the benchmark windows of at
least 0.1 s of an idle history run (one or two 10 ms ticks: the counters'
resolution); one neighbouring process spinning reads 1.0. So a window is busy
only above 0.15 cores *and* :data:`MIN_BUSY_SECONDS` of others' CPU (three
ticks): a neighbour for all of a 0.1 s window takes ten.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LOAD_DIR_ENV = "MLXBENCH_LOAD_DIR"
"""Where benchmark processes write their :class:`Record` files (unset: nothing is written)."""
SETTLE_ENV = "MLXBENCH_SETTLE_SECONDS"
"""The longest wait for a quiet machine after an install step (counted runs set 0: a count needs no quiet)."""
WRITE_SECONDS = 0.02
"""How often, at most, a sampling benchmark reads the counters and rewrites its record (about 50 us each)."""
BUSY_CORES = 0.15
"""Others' CPU plus steal, in cores averaged over the sampling window, above which a sample set is busy."""
MIN_BUSY_SECONDS = 0.03
"""Below this much CPU time of others (three 10 ms ticks), no window is busy: the counters' resolution."""


@dataclass(frozen=True)
class Counters:
    """Cumulative CPU seconds: the machine's busy time (all CPUs), its steal, this process's own; a monotonic clock."""

    busy: float
    steal: float
    own: float
    at: float


def _proc_stat() -> tuple[float, float] | None:
    """(busy, steal) CPU seconds of all CPUs from Linux's /proc/stat, or None where there is none."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(x) for x in fields[1:9]] + [0] * max(0, 9 - len(fields))
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / hz, steal / hz


def _psutil_stat() -> tuple[float, float] | None:
    """(busy, steal) from psutil's counters (macOS and others), or None without psutil."""
    try:
        import psutil
    except ImportError:
        return None
    t = psutil.cpu_times()
    return t.user + t.system + getattr(t, "nice", 0.0), getattr(t, "steal", 0.0)


def read() -> Counters | None:
    """The counters now, or None where this platform has none we can read."""
    stat = _proc_stat() if sys.platform.startswith("linux") else _psutil_stat()
    if stat is None:
        return None
    return Counters(busy=stat[0], steal=stat[1], own=time.process_time(), at=time.monotonic())


@dataclass(frozen=True)
class Load:
    """What others took while a benchmark sampled: CPU-seconds per second (cores), over ``seconds`` of wall time."""

    others: float
    steal: float
    seconds: float

    @property
    def judged(self) -> bool:
        """Whether the window is long enough to tell: a neighbour on a whole core for all of it would read busy."""
        return self.seconds > MIN_BUSY_SECONDS

    @property
    def busy(self) -> bool:
        """Whether others' CPU plus steal exceeded :data:`BUSY_CORES` (and the counters' resolution)."""
        taken = (self.others + self.steal) * self.seconds
        return taken > MIN_BUSY_SECONDS and self.others + self.steal > BUSY_CORES


def between(start: Counters, end: Counters) -> Load:
    """The load from ``start`` to ``end`` (both read in this process)."""
    wall = max(end.at - start.at, 1e-9)
    others = max(0.0, (end.busy - start.busy) - (end.own - start.own))
    return Load(others=others / wall, steal=max(0.0, end.steal - start.steal) / wall, seconds=wall)


@dataclass(frozen=True)
class Record:
    """One benchmark process's load while it sampled: which benchmark, which commit and series, how busy."""

    benchmark: str
    variant: str
    commit: str | None
    env: str | None
    others: float
    steal: float
    seconds: float
    busy: bool
    judged: bool = True
    """False for a window shorter than the counters can judge: ``busy`` is then False whatever ``others`` reads."""

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Record:
        return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})


class SamplingLoad:
    """One benchmark's sampling window in its own process, from its first sample to its latest teardown.

    ASV tears down and sets up again between samples and does not say which
    sample is the last, so each teardown extends the window, reading the
    counters and rewriting the record at most every :data:`WRITE_SECONDS`
    (outside every timed call), and always at the first.
    """

    def __init__(self, benchmark: str, variant: str, directory: str | None = None) -> None:
        self.benchmark = benchmark
        self.variant = variant
        self.directory = directory if directory is not None else os.environ.get(LOAD_DIR_ENV)
        self.start = read()
        self.path = Path(self.directory) / f"{os.getpid()}-{time.monotonic_ns()}.json" if self.directory else None
        self.written_at: float | None = None

    def extend(self) -> Load | None:
        """The load from the first sample to now, written as a :class:`Record` where the driver asked.

        Returns None without counters, or when the record was written less than WRITE_SECONDS ago.
        """
        now = time.monotonic()
        if self.start is None or (self.written_at is not None and now - self.written_at < WRITE_SECONDS):
            return None
        end = read()
        if end is None:
            return None
        load = between(self.start, end)
        self.written_at = now
        if self.path is not None:
            record = Record(
                benchmark=self.benchmark,
                variant=self.variant,
                commit=os.environ.get("ASV_COMMIT"),
                env=os.environ.get("ASV_ENV_NAME"),
                others=round(load.others, 4),
                steal=round(load.steal, 4),
                seconds=round(load.seconds, 4),
                busy=load.busy,
                judged=load.judged,
            )
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(record)))
            os.replace(tmp, self.path)
        return load


def collect(directory: Path) -> list[Record]:
    """Every record the benchmark processes wrote into ``directory`` (unreadable files are skipped)."""
    out = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            out.append(Record.from_dict(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


def wait_until_quiet(max_seconds: float, window: float = 0.5) -> tuple[bool, float, Load | None]:
    """Sleep in windows until one is quiet or ``max_seconds`` pass: (quiet, seconds waited, the last window's load)."""
    started = time.monotonic()
    last = None
    while True:
        before = read()
        if before is None:
            return True, 0.0, None
        time.sleep(window)
        last = between(before, read())
        waited = time.monotonic() - started
        if not last.busy:
            return True, waited, last
        if waited >= max_seconds:
            return False, waited, last
