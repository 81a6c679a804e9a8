"""Reads an ASV results directory into measurements: the one reader of ASV's result files.

Each variant (each parameter combination) of a ``time``, ``peakmem`` or counted
benchmark becomes a :class:`Measurement` of its machine, release and ASV
environment (the series). Results under a benchmark ``version`` other than the
suite's are ignored; what cannot be read or trusted is skipped and named, never
hiding the rest. Why: docs/asv-integration.md, "Reading ASV's results".
"""

from __future__ import annotations

import ast
import itertools
import math
import sys
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlxbench import noise
from mlxbench.catalog import CATALOG
from mlxbench.catalog.spec import dtype_of
from mlxbench.errors import UsageError
from mlxbench.harness import benchmark_names
from mlxbench.harness.asv_suite import benchmark_version
from mlxbench.harness.backends import BACKENDS
from mlxbench.harness.versions import TORCH_THREADS_ENV
from mlxbench.store import files, loads, repeatability

UNITS = {
    benchmark_names.TIME: "seconds",
    benchmark_names.PEAKMEM: "bytes",
    **{kind: benchmark_names.UNITS[kind] for kind in benchmark_names.COUNTED},
}
"""What each benchmark kind's median counts (the kinds read: the others' benchmarks are skipped)."""
FAILED = "failed"
"""The value of a measurement whose benchmark raised (ASV's ``null``)."""


@dataclass(frozen=True)
class Measurement:
    """One benchmark variant at one release on one machine.

    ``value`` is ASV's median in ``unit``: a float, NaN for n/a (the backend or
    the MLX API is missing), or :data:`FAILED`. ``time`` benchmarks measure
    seconds per call, ``peakmem`` ones the process's peak resident bytes.
    """

    machine: str
    release: str
    op: str
    variant: str
    backend: str
    value: float | str
    unit: str = "seconds"
    q25: float | None = None
    q75: float | None = None
    torch: str | None = None
    """The torch version the environment pins (result params ``torch``); None in timeline mode."""
    started_at: int = 0
    kind: str = "time"
    ci_99: tuple[float, float] | None = None
    samples: Sequence[float] | None = field(default=None, compare=False, repr=False)
    """Every sample (``--record-samples``); a compact array, since a variant keeps up to 5000."""
    repeat: int | None = None
    env: str = ""
    """The ASV environment's name: one series per machine and environment."""
    torch_threads: str | None = None
    """torch's CPU thread count in that environment (its ``MLXBENCH_TORCH_THREADS``); None where it sets none."""
    busy: bool = False
    """Sampled while other processes used the machine, after every re-measurement (``load.jsonl``): never calls a
    change."""
    axes: tuple[str, ...] = ()
    """The values of the benchmark's further parameter axes (none: one axis, the variant)."""

    @property
    def dtype(self) -> str:
        """The dtype the variant computed in (its id's suffix; float32 without one)."""
        return dtype_of(self.variant)

    @property
    def ok(self) -> bool:
        return isinstance(self.value, float) and not math.isnan(self.value)

    def stats(self) -> noise.Stats:
        """What ASV's test needs; only for a successful measurement (``ok``)."""
        assert isinstance(self.value, float)
        return noise.Stats(self.value, self.ci_99, self.samples, self.repeat)


@dataclass
class ResultSet:
    """Everything readable under a results directory, newest run per benchmark."""

    measurements: list[Measurement]
    machines: dict[str, dict[str, Any]]
    """Machine name -> its machine.json (or, when that is unreadable, its result files' params)."""
    releases: list[str]
    """Releases with results, in timeline order (unknown commits last, by hash)."""
    problems: list[str] = field(default_factory=list)
    """What was skipped or ignored, one human-readable line each."""
    repeatability: dict[str, noise.Floor] = field(default_factory=dict)
    """Machine name -> its measured repeatability (``repeatability.jsonl``), where measured."""

    def config(self, machine: str) -> str:
        """The machine's chip configuration; a legacy machine without one is its own configuration."""
        return str(self.machines.get(machine, {}).get("config") or machine)


def only_series(loaded: ResultSet, series: Sequence[str]) -> ResultSet:
    """``loaded`` without the environments a run did not file its results under.

    One machine can hold several series (a pinned one and a timeline one);
    a run's summary is about its own, and the report names a series after its
    machine only where the machine has one.
    """
    return replace(loaded, measurements=[m for m in loaded.measurements if m.env in series])


def _variant(param: str) -> str:
    try:
        value = ast.literal_eval(param)
    except (ValueError, SyntaxError):
        return param
    return str(value)


def _combinations(params: Any) -> list[tuple[str, ...]]:
    """Every combination of a benchmark's parameter axes, in ASV's order (its results are their product)."""
    if not params:
        return [()]
    if not isinstance(params, list) or not all(isinstance(axis, list) for axis in params):
        raise TypeError(f"params is not a list of axes: {params!r}")
    return [tuple(_variant(str(v)) for v in combo) for combo in itertools.product(*params)]


def _column(entry: Mapping[str, Any], name: str, count: int) -> list[Any]:
    value = entry.get(name)
    if value is None:
        return [None] * count
    return list(value) if isinstance(value, list) else [value]


def _ci(low: Any, high: Any) -> tuple[float, float] | None:
    if not (_number(low) and _number(high)) or not 0 < low <= high:
        return None  # an interval that is not one: no interval, so no test claims more than the numbers say
    return (float(low), float(high))


def _number(value: Any) -> bool:
    """A real, finite number (not a bool, a string or inf)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


PLAUSIBLE = {
    benchmark_names.TIME: (1e-8, 60.0),
    benchmark_names.PEAKMEM: (1e6, 1e13),
    **{kind: (0.0, 1e13) for kind in benchmark_names.COUNTED},
}
"""Per benchmark kind, the range a median of this suite can hold (seconds per call, peak resident bytes, counts)."""


def implausible(kind: str, median: float) -> str | None:
    """Why a median of a ``kind`` benchmark cannot be this suite's (outside :data:`PLAUSIBLE`); None if it can."""
    low, high = PLAUSIBLE[kind]
    if not low <= median <= high:
        return f"median {median!r} is outside {low:g}..{high:g} {UNITS[kind]}"
    return None


LATEST_STARTED_AT = 4_102_444_800_000
"""2100-01-01 as ASV's ``started_at`` (milliseconds since the epoch): anything later is not a date."""


def _started_at(value: Any, where: str, problems: list[str]) -> int:
    """ASV's ``started_at``, or 0 (unknown) with a problem line where it is not a plausible date."""
    if value is None:
        return 0
    if not _number(value) or not 0 <= value <= LATEST_STARTED_AT:
        problems.append(f"ignored the started_at of {where}: {value!r} is not a date")
        return 0
    return int(value)


def _untrusted(median: Any, kind: str) -> str | None:
    """Why a contributed median cannot be a measurement (None: it is one, n/a's NaN or failed's null).

    A count may be 0 (a call that missed no cache); a time or a peak never is.
    """
    if median is None or (isinstance(median, float) and math.isnan(median)):
        return None
    if not _number(median):
        return f"median {median!r} is not a finite number"
    if median < 0 or (median == 0 and kind not in benchmark_names.COUNTED):
        return f"median {median!r} is not positive"
    return None


def _read_file(
    path: Path,
    doc: Mapping[str, Any],
    release: str,
    machine: str,
    problems: list[str],
    busy: set[tuple[str, str, str, str]] = frozenset(),
) -> list[Measurement]:
    columns = doc["result_columns"]
    commit = str(doc.get("commit_hash") or "")
    torch = doc.get("params", {}).get("torch") or None  # the matrix's pin; absent in timeline mode
    env = str(doc.get("env_name") or "")
    env_vars = doc.get("env_vars")
    threads = env_vars.get(TORCH_THREADS_ENV) if isinstance(env_vars, dict) else None
    stale: dict[str, tuple[str, str]] = {}
    out: list[Measurement] = []
    for name, values in doc["results"].items():
        bench = benchmark_names.parse(name)
        if not bench or bench.kind not in UNITS or bench.op not in CATALOG:
            continue
        entry = dict(zip(columns, values))
        op = CATALOG[bench.op]
        if bench.backend not in BACKENDS:
            continue
        if entry.get("version") != (current := benchmark_version(op, bench.backend, bench.kind)):
            stale[name] = (str(entry.get("version")), current)
            continue
        combos = _combinations(entry.get("params"))
        variants = [combo[0] if combo else "" for combo in combos]
        medians = _column(entry, "result", len(variants))
        q25 = _column(entry, "stats_q_25", len(variants))
        q75 = _column(entry, "stats_q_75", len(variants))
        ci_a = _column(entry, "stats_ci_99_a", len(variants))
        ci_b = _column(entry, "stats_ci_99_b", len(variants))
        repeats = _column(entry, "stats_repeat", len(variants))
        samples = _column(entry, "samples", len(variants))
        started = _started_at(entry.get("started_at"), f"{name} in {path.name}", problems)
        for i, variant in enumerate(variants):
            where = f"{name}({', '.join(combos[i]) or variant})"
            median = medians[i] if i < len(medians) else None
            if why := _untrusted(median, bench.kind):
                problems.append(f"skipped {where} in {path.name}: {why}")
                continue
            recorded = samples[i] if i < len(samples) and bench.kind == benchmark_names.TIME else None
            if recorded and not all(_number(x) and x > 0 for x in recorded):
                problems.append(f"ignored the samples of {where} in {path.name}: not all positive numbers")
                recorded = None
            out.append(
                Measurement(
                    machine=machine,
                    release=release,
                    op=op.name,
                    variant=variant,
                    backend=bench.backend,
                    value=FAILED if median is None else float(median),
                    unit=UNITS[bench.kind],
                    q25=q25[i] if i < len(q25) and _number(q25[i]) else None,
                    q75=q75[i] if i < len(q75) and _number(q75[i]) else None,
                    torch=torch,
                    started_at=started,
                    kind=bench.kind,
                    ci_99=_ci(ci_a[i], ci_b[i]) if i < min(len(ci_a), len(ci_b)) else None,
                    samples=array("d", recorded) if recorded else None,
                    repeat=repeats[i] if i < len(repeats) and _number(repeats[i]) else None,
                    env=env,
                    torch_threads=str(threads) if threads else None,
                    busy=(commit, env, name, ", ".join(combos[i]) or variant) in busy,
                    axes=combos[i][1:],
                )
            )
    for name, (old, new) in sorted(stale.items()):
        problems.append(f"ignored {name} in {path.name}: recorded as version {old}, the suite is now {new}")
    return out


def _machine_from_params(doc: Mapping[str, Any]) -> dict[str, Any]:
    """machine.json's fields as ASV copies them into a result file's params (less python and the matrix)."""
    params = dict(doc.get("params") or {})
    for key in ("python", *(doc.get("requirements") or {}), *(doc.get("env_vars") or {})):
        params.pop(key, None)
    return params


def _check_benchmarks(results_dir: Path, problems: list[str]) -> None:
    """Warn about an unreadable benchmarks.json: the report does not need it, but asv publish and compare do."""
    path = results_dir / "benchmarks.json"
    if not path.exists():
        return
    try:
        files.read_object(path)
    except (OSError, ValueError) as exc:
        problems.append(f"skipped {path}: unreadable ({exc}); the report does not need it, asv publish/compare do")


def _read_path(
    path: Path,
    release_of: Callable[[str], str],
    problems: list[str],
    busy: set[tuple[str, str, str, str]] = frozenset(),
) -> tuple[dict[str, Any], str, list[Measurement]]:
    """One result file: its document, its release (``release_of`` its commit) and its measurements.

    Raises ValueError when the file is not an ASV results file at all; what is skipped inside goes to ``problems``.
    """
    try:
        doc = files.read_result(path)
        release = release_of(str(doc["commit_hash"]))
        return doc, release, _read_file(path, doc, release, Path(path).parent.name, problems, busy)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"not an ASV results file ({type(exc).__name__}: {exc})") from None


def read_file(path: Path) -> tuple[list[Measurement], list[str]]:
    """One result file's measurements and what in it was skipped (raises ValueError if it is not one at all)."""
    problems: list[str] = []
    _, _, found = _read_path(Path(path), lambda commit: commit[:8], problems)
    return found, problems


def read_commit(machine_dir: Path, commit: str) -> list[Measurement]:
    """Every measurement of one commit in one machine folder; what cannot be read is skipped with a warning."""
    machine_dir = Path(machine_dir)
    problems: list[str] = []
    busy = loads.busy(machine_dir)
    out: list[Measurement] = []
    for path in files.result_files(machine_dir, commit):
        try:
            out += _read_path(path, lambda c: c[:8], problems, busy)[2]
        except ValueError as exc:
            problems.append(f"skipped {path}: {exc}")
    for line in problems:
        print(f"warning: {line}", file=sys.stderr)
    return out


def load(results_dir: Path, tags: Mapping[str, str]) -> ResultSet:
    """All measurements under ``results_dir``; ``tags`` maps release tag -> commit hash.

    Raises :class:`UsageError` when the directory is missing or nothing in it
    is readable (naming every file it tried).
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UsageError(f"no results directory at {results_dir}: run `mlxbench bench` or `asv run` first")
    by_hash = {commit: tag for tag, commit in tags.items()}
    order = {tag: i for i, tag in enumerate(tags)}
    problems: list[str] = []
    _check_benchmarks(results_dir, problems)
    machines: dict[str, dict[str, Any]] = {}
    repeatability_of: dict[str, noise.Floor] = {}
    latest: dict[tuple[Any, ...], Measurement] = {}
    for machine_dir in files.machine_dirs(results_dir):
        machine_file = machine_dir / files.MACHINE_FILE
        info: dict[str, Any] | None = None
        try:
            info = files.read_object(machine_file)
        except (OSError, ValueError) as exc:
            info = None
            problems.append(f"skipped {machine_file}: {exc}; machine details taken from its result files")
        busy = loads.busy(machine_dir)
        try:
            floor = repeatability.read(machine_dir)
        except ValueError as exc:
            problems.append(f"skipped {exc}")
        else:
            if floor is not None:
                repeatability_of[machine_dir.name] = floor
        for path in files.result_files(machine_dir):
            try:
                doc, release, found = _read_path(path, lambda c: by_hash.get(c, c[:8]), problems, busy)
            except ValueError as exc:
                problems.append(f"skipped {path}: {exc}")
                continue
            if not any(m.ok for m in found):
                problems.append(
                    f"ignored {path} ({release}): no successful measurement of the current suite "
                    "(a release that does not install here leaves such a file)"
                )
                continue
            if info is None:
                info = _machine_from_params(doc)
            for m in found:
                key = (m.machine, m.env, m.release, m.op, m.variant, m.axes, m.backend, m.kind)
                if key not in latest or m.started_at >= latest[key].started_at:
                    latest[key] = m
        if info is not None:
            machines[machine_dir.name] = info
    if not latest:
        detail = "; ".join(problems) if problems else "no ASV result files"
        raise UsageError(f"nothing readable in {results_dir} ({detail})")
    present = {m.release for m in latest.values()}
    ordered = sorted(present, key=lambda r: (order.get(r, len(order)), r))
    return ResultSet(list(latest.values()), machines, ordered, problems, repeatability_of)
