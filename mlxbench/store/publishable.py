"""What the published site leaves out: result files, or whole machine folders, whose numbers no graph may show.

Left out is what would stop ASV's publish or put a number that is no measurement on a graph: a file that is
not an ASV result file, a result of any benchmark that is not a positive finite number (or n/a, failed), a
median outside the suite's plausible range, a file measured as another machine; a folder whose machine.json is
unreadable or names another machine, or whose every result file is left out. ``mlxbench check-results``
rejects more (samples not thinned, no host id): such results are published. :func:`view` links the rest into
a folder that ASV publishes from. Why: docs/asv-integration.md, "Publishing what can be published".
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlxbench.harness import benchmark_names
from mlxbench.store import files, results


def _result(value: Any, counted: bool) -> bool:
    """An ASV result value a graph can hold: n/a (NaN), failed (null) or a positive finite number (a count: >= 0)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return number and (value > 0 or (counted and value == 0))


def file_problem(path: Path) -> str | None:
    """The first reason the result file at ``path`` stays off the site; None where it can be published."""
    try:
        doc = files.read_result(path)
        at = list(doc.get("result_columns") or ["result"]).index("result")
        for name, values in sorted(doc["results"].items()):
            medians = values[at] if isinstance(values[at], list) else [values[at]]
            if bad := [v for v in medians if not _result(v, benchmark_names.is_counted(name))]:
                return f"{name}: result {bad[0]!r} is not a positive finite number"
            kind = getattr(benchmark_names.parse(name), "kind", None)
            if kind in results.PLAUSIBLE:
                for median in medians:
                    if median is not None and not math.isnan(median) and (why := results.implausible(kind, median)):
                        return f"{name}: {why}"
    except (ValueError, TypeError, IndexError, AttributeError, KeyError) as exc:
        return f"not an ASV result file ({exc})"
    machine = (doc.get("params") or {}).get("machine")
    if machine != Path(path).parent.name:
        return f"measured as machine {machine!r}, not {Path(path).parent.name!r}"
    return None


def _folder_problem(folder: Path) -> str | None:
    """Why machine folder ``folder`` stays off the site as a whole, for its machine.json; None if it need not."""
    try:
        named = files.read_object(folder / files.MACHINE_FILE).get("machine")
    except (OSError, ValueError) as exc:
        return f"{files.MACHINE_FILE} unreadable ({exc})"
    if named != folder.name:
        return f"{files.MACHINE_FILE} names the machine {named!r}, not its folder"
    return None


def left_out(results_dir: Path) -> dict[Path, str]:
    """Each machine folder or result file under ``results_dir`` the site leaves out, with its first problem.

    A folder stands for its files where its machine.json fails or every result file does.
    """
    out: dict[Path, str] = {}
    for folder in files.machine_dirs(results_dir):
        if why := _folder_problem(folder):
            out[folder] = why
            continue
        paths = files.result_files(folder)
        found = {path: why for path in paths if (why := file_problem(path))}
        if paths and len(found) == len(paths):
            first = next(iter(found))
            out[folder] = f"{first.name}: {found[first]}" + (
                f" (and {len(found) - 1} more file(s))" if len(found) > 1 else ""
            )
        else:
            out.update(found)
    return out


def view(results_dir: Path, into: Path, skipped: Mapping[Path, str]) -> None:
    """Link every file of ``results_dir`` but those ``skipped`` (:func:`left_out`'s) into ``into``, empty or missing.

    Folders are made, files linked: nothing is copied or changed.
    """
    results_dir = Path(results_dir)
    for directory, _, names in os.walk(results_dir):
        here = Path(directory)
        if here in skipped or any(parent in skipped for parent in here.parents):
            continue
        target = Path(into) / here.relative_to(results_dir)
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            if here / name not in skipped:
                (target / name).symlink_to(here / name)
