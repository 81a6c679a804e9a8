"""The results tree's files: which are ASV results, which hold a measurement, and how mlxbench writes any of them.

A results directory holds one folder per machine (``results/<machine>/``)
with ASV's ``machine.json``, one result file per commit and environment
(``<commit[:8]>-<environment>.json``) and mlxbench's own files beside them
(``load.jsonl``, ``repeatability.jsonl``, a legacy ``repeatability.json``).
Everything mlxbench writes goes through :func:`write_atomic`, so an
interrupted write leaves the old file whole.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

MACHINE_FILE = "machine.json"
RESULT_FILE = re.compile(r"^[0-9a-f]{8}-.+\.json$")
"""ASV's result files (``<commit[:8]>-<environment>.json``); nothing else in a machine folder is one."""
SET_ASIDE_SUFFIX = ".unreadable"
"""A result file ASV could not have written whole is renamed with this suffix: kept for a person, out of ASV's way."""


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` through a temporary file beside it and a rename: readers see the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def append_lines(path: Path, lines: Iterable[str]) -> None:
    """Add lines at the end of a text file, atomically: the old lines stay whole whatever happens."""
    path = Path(path)
    before = path.read_text() if path.exists() else ""
    if before and not before.endswith("\n"):
        before += "\n"
    write_atomic(path, before + "".join(line + "\n" for line in lines))


def write_json_lines(path: Path, docs: Iterable[Mapping[str, Any]]) -> None:
    """Replace a JSON Lines file atomically, one sorted-key document per line."""
    write_atomic(path, "".join(json.dumps(doc, sort_keys=True) + "\n" for doc in docs))


LOAD_FILE = "load.jsonl"
REPEATABILITY_FILE = "repeatability.jsonl"
LEGACY_REPEATABILITY_FILE = "repeatability.json"
"""Its name before it became JSON Lines: one JSON document, still read (never written)."""
CEILINGS_FILE = "ceilings.jsonl"
OWN_FILES = (LOAD_FILE, REPEATABILITY_FILE, LEGACY_REPEATABILITY_FILE, CEILINGS_FILE)
"""mlxbench's files beside ASV's in a machine folder (each store module reads and writes its own)."""


def _is_machine_dir(path: Path) -> bool:
    if not path.is_dir():
        return False
    if any((path / name).exists() for name in (MACHINE_FILE, *OWN_FILES)):
        return True
    return any(RESULT_FILE.match(f.name) for f in path.glob("*.json"))


def machine_dirs(results_dir: Path) -> list[Path]:
    """The machine folders of a results directory: subfolders with machine.json, a result file or mlxbench's own."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        return []
    return [p for p in sorted(results_dir.iterdir()) if _is_machine_dir(p)]


def is_results_dir(path: Path) -> bool:
    """Whether ``path`` holds machine folders and is not one itself (``results/``, not ``results/<machine>/``)."""
    return Path(path).is_dir() and not _is_machine_dir(Path(path)) and bool(machine_dirs(path))


def result_files(machine_dir: Path, commit: str | None = None) -> list[Path]:
    """The ASV result files of a machine folder (one commit's, given its hash): never machine.json or mlxbench's."""
    prefix = commit[:8] if commit else ""
    return sorted(p for p in Path(machine_dir).glob(f"{prefix}*.json") if RESULT_FILE.match(p.name))


def _is_measurement(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def holds_measurement(doc: Mapping[str, Any]) -> bool:
    """Whether an ASV result document holds one successful measurement (a positive number, not n/a or failed).

    A release that does not install here leaves a file without one.
    """
    try:
        at = list(doc.get("result_columns") or ["result"]).index("result")
        for values in (doc.get("results") or {}).values():
            if isinstance(values, list) and len(values) > at:
                medians = values[at] if isinstance(values[at], list) else [values[at]]
                if any(_is_measurement(v) for v in medians):
                    return True
    except (ValueError, TypeError, AttributeError):
        return False
    return False


def read_object(path: Path) -> dict[str, Any]:
    """A JSON file holding one object (machine.json, benchmarks.json); ValueError or OSError naming what is wrong."""
    doc = json.loads(Path(path).read_text())
    if not isinstance(doc, dict):
        raise ValueError(f"a JSON {type(doc).__name__}, not an object")
    return doc


def read_result(path: Path) -> dict[str, Any]:
    """One ASV result file's document; raises ValueError (naming the problem) for anything that is not one."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"unreadable ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict) or "commit_hash" not in doc:
        raise ValueError("not an ASV result file (no results or commit_hash)")
    return doc


def unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be read as JSON (a run killed mid-write, or gone); None if it can."""
    try:
        json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return str(exc)
    return None


def set_aside_unreadable(machine_dir: Path) -> list[Path]:
    """Rename each result file that is not valid JSON (a run killed mid-write) out of ASV's way, saying so.

    ASV stops at a commit whose result file it cannot parse; renamed, the next
    run measures that commit again and the broken file stays for a person.
    """
    moved = []
    for path in result_files(machine_dir):
        if (exc := unreadable(path)) is not None:
            target = path.with_name(path.name + SET_ASIDE_SUFFIX)
            os.replace(path, target)
            print(f"mlxbench: {path} was not valid JSON ({exc}); set aside as {target.name}", file=sys.stderr)
            moved.append(target)
    return moved
