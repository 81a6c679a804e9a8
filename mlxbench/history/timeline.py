"""The release timeline: a git repository with one commit per MLX release.

ASV benchmarks commits. Each commit here holds only ``MLX_VERSION`` (the
release it pins), is dated with the release's upload time and tagged like MLX
tags it (``v0.31.1``). Author, committer, dates and content are fixed, so the
hashes are identical on every machine and results from many chips merge; a
newer catalog only appends commits, so existing hashes never change.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from mlxbench.history.releases import Release

BRANCH = "main"
IDENTITY = "mlxbench timeline <timeline@mlxbench.invalid>"
VERSION_FILE = "MLX_VERSION"


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    result = subprocess.run(
        ["git", "-c", "core.autocrlf=false", *args], cwd=repo, input=stdin, capture_output=True, check=True
    )
    return result.stdout.decode()


def _fast_import_stream(releases: Sequence[Release]) -> bytes:
    """One deterministic commit per release, each parented on the previous one."""
    out: list[str] = []
    for mark, release in enumerate(releases, start=1):
        content = f"{release.version}\n"
        stamp = int(datetime.fromisoformat(release.date.replace("Z", "+00:00")).timestamp())
        message = f"mlx {release.version}\n"
        out += [
            f"commit refs/heads/{BRANCH}",
            f"mark :{mark}",
            f"author {IDENTITY} {stamp} +0000",
            f"committer {IDENTITY} {stamp} +0000",
            f"data {len(message.encode())}",
            message.rstrip("\n"),
        ]
        if mark > 1:
            out.append(f"from :{mark - 1}")
        out += [f"M 100644 inline {VERSION_FILE}", f"data {len(content.encode())}", content.rstrip("\n"), ""]
    for mark, release in enumerate(releases, start=1):
        out += [f"reset refs/tags/{release.tag}", f"from :{mark}", ""]
    return ("\n".join(out) + "\n").encode()


def sync(path: Path, releases: Sequence[Release]) -> dict[str, str]:
    """Create or update the timeline at ``path``; returns tag -> commit hash.

    Re-running with the same or a longer catalog is safe: the objects are the
    same, so existing hashes stay and only new commits and tags appear.
    """
    path = Path(path)
    if not (path / "HEAD").exists() and not (path / ".git").exists():
        path.mkdir(parents=True, exist_ok=True)
        _git(path, "init", "--quiet", "--bare", f"--initial-branch={BRANCH}")
    if releases:
        _git(path, "fast-import", "--quiet", "--force", stdin=_fast_import_stream(releases))
    return tags(path)


def tags(path: Path) -> dict[str, str]:
    """tag -> commit hash, in timeline order (oldest first)."""
    out = _git(Path(path), "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/tags")
    pairs = dict(line.split() for line in out.splitlines())
    order = _git(Path(path), "rev-list", "--reverse", BRANCH).split()
    by_hash = {h: t for t, h in pairs.items()}
    return {by_hash[h]: h for h in order if h in by_hash}
