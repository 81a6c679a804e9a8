"""Prepares this machine's results for a commit: thinned samples, nothing else touched.

Every run mlxbench starts records ASV's samples (``--record-samples``) so that
reports can apply the Mann-Whitney test ``asv compare`` uses. A default-preset
release holds about 140,000 samples (4 MB of JSON); a 28-release history would
add over 100 MB to the repository. So before results are committed, each
variant keeps :data:`KEEP_SAMPLES` of its samples, taken at evenly spaced ranks
of the sorted samples (a quantile sketch: the distribution, and so the test,
keeps its shape), rounded to :data:`DIGITS` significant digits. ASV's own
statistics (median, quartiles, 99% interval, repeat count), computed from every
sample when the run ended, are left exactly as ASV wrote them.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np

from mlxbench.errors import UsageError
from mlxbench.history import machine

KEEP_SAMPLES = 200
MIN_KEEP = 10
"""Fewer samples than ASV's own minimum per variant would leave the Mann-Whitney test nothing to work on."""
DIGITS = 5
RESULT_FILE = re.compile(r"^[0-9a-f]{8}-.+\.json$")
"""ASV's result files (``<commit[:8]>-<environment>.json``); anything else in the folder is not submit's to touch."""


def result_files(folder: Path) -> list[Path]:
    """The ASV result files of a machine folder: never machine.json, a legacy repeatability.json or anything else."""
    return sorted(p for p in Path(folder).glob("*.json") if RESULT_FILE.match(p.name))


def _write(path: Path, text: str) -> None:
    """Replace ``path`` through a temporary file and a rename: an interrupted write leaves the old file whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def thin(samples: list[float], keep: int = KEEP_SAMPLES) -> list[float]:
    """``keep`` samples at evenly spaced ranks of the sorted ones (all of them when there are fewer)."""
    ordered = sorted(samples)
    if len(ordered) > keep:
        ordered = [ordered[i] for i in np.linspace(0, len(ordered) - 1, keep).round().astype(int)]
    return [float(f"{s:.{DIGITS - 1}e}") for s in ordered]


def compact(path: Path, keep: int = KEEP_SAMPLES) -> tuple[int, int]:
    """Thin the samples of one ASV results file in place; returns (samples before, after)."""
    doc = json.loads(path.read_text())
    columns = doc.get("result_columns") or []
    if "samples" not in columns:
        return 0, 0
    at = columns.index("samples")
    before = after = 0
    for values in doc["results"].values():
        if len(values) <= at or not values[at]:
            continue
        thinned = []
        for samples in values[at]:
            before += len(samples or [])
            thinned.append(thin(samples, keep) if samples else samples)
            after += len(thinned[-1] or [])
        values[at] = thinned
    _write(path, json.dumps(doc, separators=(",", ":")) + "\n")
    return before, after


def measured(path: Path) -> bool:
    """Whether an ASV results file holds at least one successful measurement (a number, not n/a or failed)."""
    doc = json.loads(path.read_text())
    at = (doc.get("result_columns") or ["result"]).index("result")
    return any(
        isinstance(v, (int, float)) and v == v
        for values in doc.get("results", {}).values()
        if len(values) > at
        for v in (values[at] if isinstance(values[at], list) else [values[at]])
    )


def run(results_dir: Path, machine_name: str | None = None, keep: int = KEEP_SAMPLES) -> int:
    """Compact this machine's results folder and print the command that submits it."""
    if keep < MIN_KEEP:
        raise UsageError(f"--keep-samples {keep}: keep at least {MIN_KEEP} samples per variant")
    name = machine.check_name(machine_name) if machine_name is not None else machine.describe()["machine"]
    folder = Path(results_dir) / name
    if not (folder / "machine.json").exists():
        raise UsageError(f"no results for {name!r} in {results_dir}: run `mlxbench bench` or `mlxbench history` first")
    size_before = sum(p.stat().st_size for p in folder.glob("*.json"))
    kept = total = 0
    for path in result_files(folder):
        if not measured(path):
            path.unlink()  # e.g. a release whose install failed: nothing in it, nothing to submit
            print(f"removed {path.name}: no successful measurement in it", file=sys.stderr)
            continue
        b, a = compact(path, keep)
        total, kept = total + b, kept + a
    size_after = sum(p.stat().st_size for p in folder.glob("*.json"))
    print(
        f"{folder}: kept {kept} of {total} samples (at most {keep} per variant); "
        f"{size_before / 1e6:.1f} MB -> {size_after / 1e6:.1f} MB",
        file=sys.stderr,
    )
    print(f'git add -f "{folder}" && git commit -m "Results: {name}"')
    return 0
