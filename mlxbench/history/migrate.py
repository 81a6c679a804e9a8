"""Move results keyed by the first, MLX-only timeline onto the stack timeline.

ASV keys a result file by commit hash (in its ``commit_hash`` field and the
first 8 characters of its name) and dates it by the commit (``date``, ms). The
first timeline had one commit per MLX release holding only ``MLX_VERSION``;
the stack timeline's commits also pin torch, so every hash changed. A result
measured in a pinned-torch environment (its name carries ``torch2.13.0``)
measured exactly the MLX release of its old commit and the environment's torch,
which is what the new MLX commit of the same release means in that pinned
series: such files are rewritten to the new commit.

The old hashes are frozen in ``data/mlx_timeline_v1.json`` (tag -> hash), so
migrating needs neither the old code nor the old repository. Nothing is
dropped silently: a file that cannot be mapped (unknown hash, an environment
without a torch pin, a target that already exists) is reported and left as it
is, for re-measurement.

A machine's ``repeatability.json`` (one JSON document) becomes a line of
``repeatability.jsonl``: ASV takes every ``*.json`` in a machine's folder for a
result file, and ``asv publish`` warns about one that is not.

The command that runs it over each results directory and prints what moved is
:mod:`mlxbench.commands.migrate`:

    mlxbench migrate [--apply] [RESULTS_DIR ...]     (a dry run unless --apply)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlxbench.stack import timeline
from mlxbench.stack.releases import DATA_DIR
from mlxbench.store import files
from mlxbench.store.repeatability import LEGACY_REPEATABILITY_FILE, REPEATABILITY_FILE

LEGACY_PATH = DATA_DIR / "mlx_timeline_v1.json"


def legacy_tags(path: Path = LEGACY_PATH) -> dict[str, str]:
    """The MLX-only timeline's tag -> commit hash, as it was before torch joined."""
    return dict(json.loads(path.read_text())["tags"])


@dataclass
class Migration:
    """What :func:`migrate` did (or would do, on a dry run)."""

    moved: list[tuple[Path, Path]] = field(default_factory=list)  # (old file, new file)
    current: list[Path] = field(default_factory=list)  # already keyed by the stack timeline
    left: list[tuple[Path, str]] = field(default_factory=list)  # (file, why it was not moved)

    def lines(self, dry_run: bool = False) -> list[str]:
        moved = "would move" if dry_run else "moved"
        out = [f"{moved} {old.parent.name}/{old.name} -> {new.name}" for old, new in self.moved]
        out += [f"left {path.parent.name}/{path.name}: {why}" for path, why in self.left]
        out.append(
            f"{len(self.moved)} {moved}, {len(self.current)} already on the stack timeline, {len(self.left)} left"
        )
        return out


def _result_files(results_dir: Path) -> list[Path]:
    """Every machine's ASV result files (the store's rule: never machine.json or mlxbench's own files)."""
    return [path for machine in files.machine_dirs(results_dir) for path in files.result_files(machine)]


def _repeatability(machine_dir: Path, dry_run: bool, done: Migration) -> None:
    """``repeatability.json`` -> a line of ``repeatability.jsonl``, before any line already there (it is older)."""
    old, new = machine_dir / LEGACY_REPEATABILITY_FILE, machine_dir / REPEATABILITY_FILE
    if not old.exists():
        return
    try:
        line = json.dumps(json.loads(old.read_text()), sort_keys=True) + "\n"
    except (OSError, ValueError) as exc:
        done.left.append((old, f"not readable JSON ({exc})"))
        return
    if not dry_run:
        files.write_atomic(new, line + (new.read_text() if new.exists() else ""))
        old.unlink()
    done.moved.append((old, new))


def migrate(
    results_dir: Path,
    tags: Mapping[str, str],
    commits: Sequence[timeline.Commit] | None = None,
    dry_run: bool = False,
    legacy: Mapping[str, str] | None = None,
) -> Migration:
    """Rewrite every result under ``results_dir`` keyed by an old MLX-only hash to the new MLX commit.

    ``tags`` is the stack timeline (:func:`mlxbench.stack.timeline.sync`);
    ``commits`` its :func:`~mlxbench.stack.timeline.plan` (for the dates).
    """
    old_tag = {h: t for t, h in (legacy_tags() if legacy is None else legacy).items()}
    new_hashes = set(tags.values())
    stamp = {c.tag: c.timestamp * 1000 for c in (timeline.plan() if commits is None else commits)}
    done = Migration()
    for path in _result_files(Path(results_dir)):
        try:
            doc = files.read_result(path)
            commit, env_name = doc["commit_hash"], doc["env_name"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            done.left.append((path, f"not a readable ASV result file ({exc})"))
            continue
        if commit in new_hashes:
            done.current.append(path)
            continue
        tag = old_tag.get(commit)
        if tag is None:
            done.left.append((path, f"commit {commit[:8]} is in neither the old nor the new timeline"))
            continue
        if tag not in tags or tag not in stamp:
            done.left.append((path, f"{tag} is not in the stack timeline: run `mlxbench releases sync`"))
            continue
        if not (doc.get("requirements") or {}).get("torch"):
            done.left.append(
                (path, f"{env_name} does not pin torch: the new {tag} pins a torch this file did not measure")
            )
            continue
        new = tags[tag]
        if not path.name.startswith(f"{commit[:8]}-"):
            done.left.append((path, f"file name does not start with its commit {commit[:8]}"))
            continue
        target = path.with_name(new[:8] + path.name[8:])
        if target.exists():
            done.left.append((path, f"{target.name} already exists"))
            continue
        doc["commit_hash"], doc["date"] = new, stamp[tag]
        if not dry_run:
            files.write_atomic(target, json.dumps(doc))  # ASV writes result files with json.dump's defaults
            path.unlink()
        done.moved.append((path, target))
    for machine_dir in files.machine_dirs(Path(results_dir)):
        _repeatability(machine_dir, dry_run, done)
    return done
