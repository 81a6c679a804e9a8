"""The main job: benchmark this machine at the installed MLX release with ASV.

Syncs the release timeline, registers the machine, and runs ``asv run`` in the
current environment (``-E existing``) with ``--set-commit-hash`` pointing at
the timeline commit of the installed MLX release, so the results land in the
same history that ``asv run ALL`` builds. Only backends available here are
asked for: ASV would otherwise start a process just to report n/a.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from mlxbench import compat, machine, releases, timeline
from mlxbench.backends import Backend
from mlxbench.selection import UsageError
from mlxbench.spec import Op
from mlxbench.suite import PRESET_ENV

ROOT = Path(__file__).resolve().parent.parent


def asv_conf(root: Path = ROOT) -> dict:
    path = root / "asv.conf.json"
    if not path.exists():
        raise UsageError(f"no asv.conf.json in {root}: run mlxbench from a clone of the repository")
    from asv.util import load_json

    return load_json(str(path), js_comments=True)


def sync_timeline(conf: dict, root: Path = ROOT) -> dict[str, str]:
    """Create or update the timeline repository asv.conf.json names; tag -> hash."""
    return timeline.sync(root / conf["repo"], releases.load())


def commit_for_installed_mlx(tags: dict[str, str]) -> tuple[str, str]:
    tag = f"v{compat.mlx_version()}"
    if tag not in tags:
        raise UsageError(f"installed mlx {compat.mlx_version()} is not a catalogued release; "
                         "install one (`pip install mlx==0.32.4`) or run `mlxbench releases refresh`")
    return tag, tags[tag]


def bench_regex(ops: Sequence[Op], backends: Sequence[Backend]) -> str:
    return rf"^ops\.({'|'.join(op.name for op in ops)})\.time_({'|'.join(b.name for b in backends)})\b"


def run(preset: str, ops: Sequence[Op], backends: Sequence[Backend], machine_name: str | None, quick: bool) -> int:
    reasons = {b.name: b.unavailable() for b in backends}
    for name, reason in reasons.items():
        if reason:
            print(f"skipping {name}: {reason}", file=sys.stderr)
    runnable = [b for b in backends if reasons[b.name] is None]
    if not runnable:
        raise UsageError("none of the selected backends can run on this machine")
    conf = asv_conf()
    tags = sync_timeline(conf)
    tag, commit = commit_for_installed_mlx(tags)
    name = machine.register(machine_name)["machine"]
    print(f"benchmarking mlx {tag} (timeline commit {commit[:8]}), torch {compat.torch_version()}, "
          f"preset {preset!r} on {name!r}", file=sys.stderr)
    cmd = [
        str(Path(sys.executable).with_name("asv")), "run",
        "-E", f"existing:{sys.executable}", "--set-commit-hash", commit,
        "--machine", name, "-b", bench_regex(ops, runnable), "--show-stderr",
    ] + (["--quick"] if quick else [])
    env = {**os.environ, PRESET_ENV: preset}
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    print(summary_table(ROOT / conf["results_dir"] / name, commit))
    return code


def summary_table(machine_dir: Path, commit: str) -> str:
    """Median time per op variant and backend, in ms, from the run's ASV result files."""
    rows: dict[tuple[str, str], dict[str, float]] = {}
    backends: list[str] = []
    for path in sorted(machine_dir.glob(f"{commit[:8]}-*.json")):
        doc = json.loads(path.read_text())
        col = doc["result_columns"]
        for name, values in doc["results"].items():
            m = re.match(r"ops\.(\w+)\.time_(\w+)$", name)
            if not m:
                continue
            entry = dict(zip(col, values))
            params = [p.strip("'") for p in entry["params"][0]] if entry.get("params") else [""]
            results = entry["result"] if isinstance(entry["result"], list) else [entry["result"]]
            if m[2] not in backends:
                backends.append(m[2])
            for variant, value in zip(params, results):
                rows.setdefault((m[1], variant), {})[m[2]] = value
    lines = ["| op | variant | " + " | ".join(backends) + " |", "|---|---|" + "---|" * len(backends)]
    for (op, variant), times in sorted(rows.items()):
        cells = [_ms(times[b]) if b in times else "" for b in backends]
        lines.append(f"| {op} | {variant} | " + " | ".join(cells) + " |")
    return "times in ms (ASV median)\n" + "\n".join(lines)


def _ms(value: float | None) -> str:
    if value is None:
        return "failed"
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return f"{value * 1e3:.3f}"
