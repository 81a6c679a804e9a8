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
import sys
from pathlib import Path

import numpy as np

from mlxbench.errors import UsageError
from mlxbench.history import machine
from mlxbench.store import files, tracked

KEEP_SAMPLES = 200
MIN_KEEP = 10
"""Fewer samples than ASV's own minimum per variant would leave the Mann-Whitney test nothing to work on."""
DIGITS = 5


def thin(samples: list[float], keep: int = KEEP_SAMPLES) -> list[float]:
    """``keep`` samples at evenly spaced ranks of the sorted ones (all of them when there are fewer)."""
    ordered = sorted(samples)
    if len(ordered) > keep:
        ordered = [ordered[i] for i in np.linspace(0, len(ordered) - 1, keep).round().astype(int)]
    return [float(f"{s:.{DIGITS - 1}e}") for s in ordered]


def compact(path: Path, keep: int = KEEP_SAMPLES) -> tuple[int, int]:
    """Thin the samples of one ASV results file in place; returns (samples before, after).

    A file already thinned is left byte for byte as it is (a second submit changes nothing git would see).
    """
    doc = files.read_result(path)
    columns = doc.get("result_columns") or []
    if "samples" not in columns:
        return 0, 0
    at = columns.index("samples")
    before = after = 0
    changed = False
    for values in doc["results"].values():
        if len(values) <= at or not values[at]:
            continue
        thinned = []
        for samples in values[at]:
            before += len(samples or [])
            thinned.append(thin(samples, keep) if samples else samples)
            after += len(thinned[-1] or [])
        changed = changed or thinned != values[at]
        values[at] = thinned
    if changed:
        files.write_atomic(path, json.dumps(doc, separators=(",", ":")) + "\n")
    return before, after


def run(results_dir: Path, machine_name: str | None = None, keep: int = KEEP_SAMPLES) -> int:
    """Compact this machine's results folder and print the command that submits it (none where git would find
    nothing to commit)."""
    if keep < MIN_KEEP:
        raise UsageError(f"--keep-samples {keep}: keep at least {MIN_KEEP} samples per variant")
    name = machine.check_name(machine_name) if machine_name is not None else machine.describe()["machine"]
    folder = Path(results_dir) / name
    if not (folder / "machine.json").exists():
        raise UsageError(f"no results for {name!r} in {results_dir}: run `mlxbench bench` or `mlxbench history` first")
    size_before = sum(p.stat().st_size for p in folder.glob("*.json"))
    kept = total = 0
    for path in files.result_files(folder):
        try:
            doc = files.read_result(path)
        except ValueError as exc:
            print(f"left {path.name} as it is: {exc}", file=sys.stderr)
            continue
        if not files.holds_measurement(doc):
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
    if tracked.as_committed(folder):
        print(f"nothing to commit: {folder} is as committed (measure something new first)", file=sys.stderr)
        return 0
    print(f'git add -f "{folder}" && git commit -m "Results: {name}"')
    return 0
