"""A plain ``asv run`` (or ``continuous``, ``find``) through this repository's configuration stores what
``mlxbench check-results`` accepts, as ``mlxbench bench`` does.

mlxbench's own jobs point the benchmark processes at a folder for their load records
(:data:`~mlxbench.harness.load.LOAD_DIR_ENV`) and keep the readings themselves (:mod:`mlxbench.history.quiet`).
A command without such a driver gets one here: a temporary folder for the records and, when ASV's process ends,
each result file it wrote gets its samples thinned as ``mlxbench submit`` keeps them and the load of its
benchmarks merged into its machine folder's ``load.jsonl``. That every result keeps its samples
(``--record-samples``) is :mod:`mlxbench.history.asv_patches`'s. Why: docs/asv-integration.md, "A plain asv run".
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from mlxbench.harness import load
from mlxbench.history import quiet, submit
from mlxbench.history.asv_command import AsvCommand
from mlxbench.store import files

STORING = ("run", "continuous", "find")
"""The ASV commands that store benchmark results."""
Stamps = dict[Path, tuple[int, int]]
"""Each result file of a results directory: its modification time (ns) and size."""


def stamps(results_dir: Path) -> Stamps:
    """Every result file under ``results_dir`` with its modification time and size."""
    out: Stamps = {}
    for folder in files.machine_dirs(results_dir):
        for path in files.result_files(folder):
            stat = path.stat()
            out[path] = (stat.st_mtime_ns, stat.st_size)
    return out


def written(results_dir: Path, before: Mapping[Path, tuple[int, int]]) -> list[Path]:
    """The result files under ``results_dir`` written since ``before`` was taken (new or changed)."""
    return sorted(path for path, stamp in stamps(results_dir).items() if before.get(path) != stamp)


def keep(paths: list[Path], records: list[load.Record]) -> list[str]:
    """Thin each written result file's samples and merge its benchmarks' load into its folder; one line each.

    A record names its commit and series (ASV tells the benchmark processes); one that does not belongs to
    the only file written, where there is one.
    """
    lines = []
    for path in paths:
        try:
            doc = files.read_result(path)
        except ValueError:
            continue  # not whole: ASV's own error says why; nothing here to add to it
        commit, env = str(doc["commit_hash"]), str(doc.get("env_name") or "")
        own = [
            r
            for r in records
            if (r.commit == commit or (r.commit is None and len(paths) == 1))
            and (r.env == env or (r.env is None and len(paths) == 1))
        ]
        found = quiet.readings(own, commit, env)
        quiet.store(path.parent, found)
        submit.compact(path)
        busy = sum(r.busy for r in found.values())
        lines.append(
            f"{path.parent.name}/{path.name}: samples thinned as `mlxbench submit` keeps them "
            f"({submit.KEEP_SAMPLES} per variant at most), the load of {len(found)} result(s) in {files.LOAD_FILE}"
            + (f" ({busy} sampled while the machine was busy: marked, never used to call a change)" if busy else "")
        )
    return lines


def finish(results_dir: Path, before: Stamps, directory: Path) -> None:
    """When the command ends: keep what it wrote (:func:`keep`), say so, remove the records' folder."""
    try:
        for line in keep(written(results_dir, before), load.collect(directory)):
            print(f"mlxbench: {line}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def record(command: AsvCommand) -> Path | None:
    """Have ``command``'s benchmark processes write their load, kept when it ends; the records' folder.

    None where nothing is stored or a driver (an mlxbench job) keeps the load itself.
    """
    if command.name not in STORING or os.environ.get(load.LOAD_DIR_ENV):
        return None
    results_dir = command.path("results_dir")
    directory = Path(tempfile.mkdtemp(prefix="mlxbench-load-"))
    os.environ[load.LOAD_DIR_ENV] = str(directory)
    atexit.register(finish, results_dir, stamps(results_dir), directory)
    return directory
