"""A machine folder's measured repeatability (``repeatability.jsonl``): one line per A/A measurement, newest counts.

``mlxbench compare vA vA`` appends a line::

    {"within_10pct": 0.79, "p90_abs_change": 0.14, "runs": [...]}

``within_10pct`` is the share of medians that agreed within +-10% between the
two runs, ``p90_abs_change`` the 90th percentile of ``|ratio - 1|`` (both
fractions); ``runs`` describes the runs. A line with a ``selection`` (the ops and
backends of a narrowed comparison) is never the machine's floor. It is JSON Lines, not ``.json``: ASV
takes every ``*.json`` in a machine's folder for a result file. A
``repeatability.json`` written before (one JSON document) is still read where
no ``.jsonl`` exists, and never written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlxbench.noise import Floor
from mlxbench.store import files

REPEATABILITY_FILE = files.REPEATABILITY_FILE
LEGACY_REPEATABILITY_FILE = files.LEGACY_REPEATABILITY_FILE
SELECTION_KEY = "selection"
"""The ops and backends a narrowed measurement covered; absent where it covered the default selection."""


def _whole(line: str) -> bool:
    """Whether a line is not a narrowed measurement's (an unreadable one counts: :func:`read` then names it)."""
    try:
        doc = json.loads(line)
    except ValueError:
        return True
    return not (isinstance(doc, dict) and SELECTION_KEY in doc)


def read(machine_dir: Path) -> Floor | None:
    """The machine's newest measured repeatability over the default selection as a floor; None where there is none.

    Raises ValueError (naming the file) when the file exists but is not the
    agreed schema, so the caller can warn instead of trusting a bad number.
    """
    found = [Path(machine_dir) / name for name in (REPEATABILITY_FILE, LEGACY_REPEATABILITY_FILE)]
    path = next((p for p in found if p.exists()), None)
    if path is None:
        return None
    try:
        text = path.read_text()
        if path.name == REPEATABILITY_FILE:
            lines = [line for line in text.splitlines() if line.strip()]
            whole = [line for line in lines if _whole(line)]
            if lines and not whole:
                return None
            text = whole[-1] if whole else text
        doc = json.loads(text)
        value = float(doc["p90_abs_change"])
        within = float(doc["within_10pct"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a repeatability file ({type(exc).__name__}: {exc})") from exc
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{path}: p90_abs_change must be a fraction >= 0, got {value}")
    if not (math.isfinite(within) and 0 <= within <= 1):
        raise ValueError(f"{path}: within_10pct must be a fraction in [0, 1], got {within}")
    runs = doc.get("runs")
    count = f" of {len(runs)} runs" if isinstance(runs, list) else ""
    return Floor(
        value,
        f"measured repeatability{count} of one release ({path.name}: "
        f"90th percentile of |ratio - 1|; {within * 100:.0f}% of medians within 10%)",
    )


def append(machine_dir: Path, doc: Mapping[str, Any], info: Mapping[str, Any] | None = None) -> Path:
    """Add one measurement as the newest line (atomically); earlier lines stay, as calibrations do.

    A machine folder that does not exist yet also gets ``machine.json`` from
    ``info``, so that ASV and the reports can read the folder.
    """
    path = Path(machine_dir) / REPEATABILITY_FILE
    machine_file = path.parent / files.MACHINE_FILE
    if info is not None and not machine_file.exists():
        files.write_atomic(machine_file, json.dumps({**info, "version": 1}, indent=4, sort_keys=True) + "\n")
    files.append_lines(path, [json.dumps(dict(doc), sort_keys=True)])
    return path


def newest(machine_dir: Path) -> dict[str, Any]:
    """The newest line of the machine's repeatability file as written (for saying what was just measured)."""
    lines = [line for line in (Path(machine_dir) / REPEATABILITY_FILE).read_text().splitlines() if line.strip()]
    return dict(json.loads(lines[-1]))
