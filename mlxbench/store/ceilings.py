"""A machine folder's ``ceilings.jsonl``: ``mlxbench calibrate``'s bandwidth and compute ceilings, newest line wins.

The suffix keeps ASV from reading it as a result file. A line that is not a
ceiling record is skipped with a problem line naming it; the rest still count.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from mlxbench.harness.ceilings import Ceiling
from mlxbench.store import files

FILE = files.CEILINGS_FILE


def save(machine_dir: Path, ceilings: Sequence[Ceiling]) -> Path:
    """Append to the machine's ceilings file (atomically: the old lines stay whole); its path."""
    path = Path(machine_dir) / FILE
    files.append_lines(path, (json.dumps(asdict(c)) for c in ceilings))
    return path


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _check(c: Ceiling) -> None:
    if not (isinstance(c.backend, str) and _positive(c.gflops) and isinstance(c.bandwidth_gbs, dict)):
        raise ValueError("backend, gflops or bandwidth_gbs missing or not positive")
    if not c.bandwidth_gbs or not all(k.isdigit() and _positive(v) for k, v in c.bandwidth_gbs.items()):
        raise ValueError("bandwidth_gbs is not bytes -> positive GB/s")


def load(machine_dir: Path, problems: list[str]) -> dict[str, Ceiling]:
    """backend -> its newest ceiling ({} when never calibrated); a bad line goes to ``problems``, not in the way."""
    path = Path(machine_dir) / FILE
    if not path.exists():
        return {}
    out: dict[str, Ceiling] = {}
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            c = Ceiling(**json.loads(line))
            _check(c)
        except (ValueError, TypeError, AttributeError) as exc:
            problems.append(f"skipped {path}:{number}: not a ceiling record ({exc})")
            continue
        out[c.backend] = c
    return out
