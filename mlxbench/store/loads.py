"""A machine folder's ``load.jsonl``: how busy the machine was while each result sampled (the quiet-history driver's).

One line per (commit, environment, benchmark, variant), the latest reading
winning: other processes' CPU and the hypervisor's steal over the sampling
window, and whether that made the result busy (never used to call a change).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlxbench.store import files

LOAD_FILE = files.LOAD_FILE
Key = tuple[str, str, str, str]
"""(commit, environment, benchmark, variant)."""


def stored(machine_dir: Path) -> dict[Key, dict[str, Any]]:
    """The machine folder's :data:`LOAD_FILE`: key -> its line (bad lines skipped, the latest line per key wins)."""
    path = Path(machine_dir) / LOAD_FILE
    out: dict[Key, dict[str, Any]] = {}
    if not path.is_file():
        return out
    for line in path.read_text(errors="replace").splitlines():
        try:
            doc = json.loads(line)
            out[(str(doc["commit"]), str(doc["env"]), str(doc["benchmark"]), str(doc["variant"]))] = doc
        except (ValueError, KeyError, TypeError):
            continue
    return out


def busy(machine_dir: Path) -> set[Key]:
    """Every result the machine folder's load file marks busy."""
    return {key for key, doc in stored(machine_dir).items() if doc.get("busy") is True}


def merge(machine_dir: Path, readings: Mapping[Key, Mapping[str, Any]]) -> None:
    """Merge a run's readings (key -> fields) into the load file, atomically; a new reading replaces the old."""
    if not readings:
        return
    kept = stored(machine_dir)  # an unreadable line is dropped, not fatal
    for (commit, env, benchmark, variant), fields in readings.items():
        kept[(commit, env, benchmark, variant)] = {
            "commit": commit,
            "env": env,
            "benchmark": benchmark,
            "variant": variant,
            **fields,
        }
    files.write_json_lines(Path(machine_dir) / LOAD_FILE, (doc for _, doc in sorted(kept.items())))
