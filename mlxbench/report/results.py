"""Reads an ASV results directory into the measurements reports are made of.

ASV stores one JSON file per machine, commit and environment
(``results/<machine>/<hash>-<env>.json``). For every ``ops.<Op>.time_<backend>``
benchmark it holds, per variant, the median (``result``: NaN when setup raised
``NotImplementedError``, i.e. n/a; ``null`` when the benchmark failed) and the
quartiles. Results recorded under a benchmark ``version`` other than the
current suite's measure different work and are ignored, as ASV itself does.
A file that cannot be read is skipped and named, so one bad file never hides
the rest.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlxbench.catalog import CATALOG
from mlxbench.errors import UsageError
from mlxbench.harness.asv_suite import benchmark_version

BENCHMARK_NAME = re.compile(r"ops\.(?P<op>\w+)\.(?P<kind>time|peakmem)_(?P<backend>\w+)$")
UNITS = {"time": "seconds", "peakmem": "bytes"}
"""What each benchmark kind's median counts."""
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
    started_at: int = 0
    kind: str = "time"

    @property
    def ok(self) -> bool:
        return isinstance(self.value, float) and not math.isnan(self.value)


@dataclass
class ResultSet:
    """Everything readable under a results directory, newest run per benchmark."""

    measurements: list[Measurement]
    machines: dict[str, dict[str, Any]]
    releases: list[str]
    """Releases with results, in timeline order (unknown commits last, by hash)."""
    problems: list[str] = field(default_factory=list)
    """What was skipped or ignored, one human-readable line each."""


def _variant(param: str) -> str:
    try:
        value = ast.literal_eval(param)
    except (ValueError, SyntaxError):
        return param
    return str(value)


def _column(entry: Mapping[str, Any], name: str, count: int) -> list[Any]:
    value = entry.get(name)
    if value is None:
        return [None] * count
    return list(value) if isinstance(value, list) else [value]


def _read_file(
    path: Path, doc: Mapping[str, Any], release: str, machine: str, problems: list[str]
) -> list[Measurement]:
    columns = doc["result_columns"]
    torch = doc.get("params", {}).get("torch") or None
    stale: dict[str, tuple[str, str]] = {}
    out: list[Measurement] = []
    for name, values in doc["results"].items():
        match = BENCHMARK_NAME.match(name)
        if not match or match["op"] not in CATALOG:
            continue
        entry = dict(zip(columns, values))
        op = CATALOG[match["op"]]
        if entry.get("version") != benchmark_version(op):
            stale[name] = (str(entry.get("version")), benchmark_version(op))
            continue
        variants = [_variant(p) for p in entry["params"][0]] if entry.get("params") else [""]
        medians = _column(entry, "result", len(variants))
        q25 = _column(entry, "stats_q_25", len(variants))
        q75 = _column(entry, "stats_q_75", len(variants))
        for i, variant in enumerate(variants):
            median = medians[i] if i < len(medians) else None
            out.append(
                Measurement(
                    machine=machine,
                    release=release,
                    op=op.name,
                    variant=variant,
                    backend=match["backend"],
                    value=FAILED if median is None else float(median),
                    unit=UNITS[match["kind"]],
                    q25=q25[i] if i < len(q25) else None,
                    q75=q75[i] if i < len(q75) else None,
                    torch=torch,
                    started_at=int(entry.get("started_at") or 0),
                    kind=match["kind"],
                )
            )
    for name, (old, new) in sorted(stale.items()):
        problems.append(f"ignored {name} in {path.name}: recorded as version {old}, the suite is now {new}")
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
    machines: dict[str, dict[str, Any]] = {}
    latest: dict[tuple[str, ...], Measurement] = {}
    for machine_dir in sorted(p for p in results_dir.iterdir() if p.is_dir()):
        machine_file = machine_dir / "machine.json"
        if not machine_file.exists():
            continue
        try:
            machines[machine_dir.name] = json.loads(machine_file.read_text())
        except (OSError, ValueError) as exc:
            problems.append(f"skipped {machine_file}: {exc}")
            continue
        for path in sorted(machine_dir.glob("*.json")):
            if path.name == "machine.json":
                continue
            try:
                doc = json.loads(path.read_text())
                commit = doc["commit_hash"]
                found = _read_file(path, doc, by_hash.get(commit, commit[:8]), machine_dir.name, problems)
            except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
                problems.append(f"skipped {path}: not an ASV results file ({type(exc).__name__}: {exc})")
                continue
            for m in found:
                key = (m.machine, m.release, m.op, m.variant, m.backend, m.kind)
                if key not in latest or m.started_at >= latest[key].started_at:
                    latest[key] = m
    if not latest:
        detail = "; ".join(problems) if problems else "no ASV result files"
        raise UsageError(f"nothing readable in {results_dir} ({detail})")
    present = {m.release for m in latest.values()}
    ordered = sorted(present, key=lambda r: (order.get(r, len(order)), r))
    return ResultSet(list(latest.values()), machines, ordered, problems)
