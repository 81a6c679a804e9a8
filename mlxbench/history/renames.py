"""This host's results folders named under an older host id, renamed to the name its hardware gives it now.

Before names came from the hardware alone, a random id kept in the home
(``~/.config/mlxbench/host-id``) was mixed into the host hash. The folder a
host wrote then records that hash (``machine.json``'s ``host``); where it is
one this host had (:func:`mlxbench.history.machine.legacy_hosts`) and the chip
configuration is this one's, the folder is this host's history and moves to
the current name: folder, ``machine.json`` and every result file's ``params``
(ASV's graphs name the machine from them). Folders of other hosts are never
touched; a target that already exists is left, with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlxbench.store import files


@dataclass
class Renames:
    """What :func:`rename` did (or would do, on a dry run)."""

    moved: list[tuple[Path, Path]] = field(default_factory=list)  # (old folder, new folder)
    left: list[tuple[Path, str]] = field(default_factory=list)  # (folder, why it stayed)

    def lines(self, dry_run: bool = False) -> list[str]:
        verb = "would rename" if dry_run else "renamed"
        out = [
            f"{verb} {old.name} -> {new.name} (this host's folder under its former host id)" for old, new in self.moved
        ]
        return out + [f"left {path.name}: {why}" for path, why in self.left]


def _recorded(folder: Path) -> dict[str, Any]:
    try:
        return files.read_object(folder / files.MACHINE_FILE)
    except (OSError, ValueError):
        return {}


def rename(results_dir: Path, info: Mapping[str, Any], former: set[str], dry_run: bool = False) -> Renames:
    """Move each folder of ``results_dir`` that records one of this host's ``former`` host hashes to ``info``'s name."""
    done = Renames()
    target = Path(results_dir) / str(info["machine"])
    for folder in files.machine_dirs(results_dir):
        recorded = _recorded(folder)
        if folder == target or recorded.get("host") not in former or recorded.get("config") != info["config"]:
            continue
        if target.exists():
            done.left.append((folder, f"{target.name} exists already; merge by hand or measure again"))
            continue
        done.moved.append((folder, target))
        if dry_run:
            continue
        for path in files.result_files(folder):
            doc = files.read_result(path)
            doc["params"] = {**(doc.get("params") or {}), "machine": info["machine"], "host": info["host"]}
            files.write_atomic(path, json.dumps(doc))
        files.write_atomic(
            folder / files.MACHINE_FILE,
            json.dumps({**recorded, "machine": info["machine"], "host": info["host"]}, indent=4, sort_keys=True),
        )
        folder.rename(target)
    return done
