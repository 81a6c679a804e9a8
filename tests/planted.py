"""A machine folder of planted bad numbers beside real ones: what a careless contribution looks like."""

from __future__ import annotations

import json
from pathlib import Path

NAME = "planted abc123"
BAD = (0, -1.0, "abc", 1e300)
"""Medians no measurement has: zero, negative, a string, absurdly large."""


def plant(results_dir: Path, source: Path, name: str = NAME) -> Path:
    """``results_dir/name``: ``source``'s machine.json and result files, a bad median in each of the first time
    benchmarks of every file (one of :data:`BAD` each)."""
    folder = Path(results_dir) / name
    folder.mkdir()
    info = json.loads((source / "machine.json").read_text())
    info.update(machine=name, host=name.split()[-1])
    (folder / "machine.json").write_text(json.dumps(info))
    for path in sorted(source.glob("*-*.json")):
        doc = json.loads(path.read_text())
        doc["params"].update(machine=name, host=info["host"])
        timed = [n for n in sorted(doc["results"]) if ".time_" in n]
        for benchmark, value in zip(timed, BAD):
            doc["results"][benchmark][0][0] = value
        (folder / path.name).write_text(json.dumps(doc))
    return folder
