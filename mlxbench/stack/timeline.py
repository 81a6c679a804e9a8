"""The release timeline: a git repository of the MLX–PyTorch stack over time.

ASV benchmarks commits; the frameworks ship wheels. So the timeline has one
commit per MLX release and one per PyTorch release, in upload-time order, and
each commit pins the pair current at that moment: ``MLX_VERSION`` and
``TORCH_VERSION`` (``none`` where no release of that framework exists yet).
A benchmark's history then steps only where its framework changed, and the
other framework's benchmarks between two commits are a control for the
machine's drift.

MLX commits are tagged like MLX tags its releases (``v0.31.1``), so
``asv compare v0.20.0 v0.31.1`` reads naturally; torch commits are tagged
``torch-v2.9.0``. A torch release that is not the newest torch version at its
upload time (a patch of an older series) changes nothing any user would have
picked up, and gets no commit.

Author, committer, dates, messages and content are fixed, so the hashes are
identical on every machine and results from many chips merge. A newer release
of either framework appends one commit, so existing hashes never change.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from packaging.version import Version

from mlxbench.stack import releases as catalog
from mlxbench.stack.releases import Release

BRANCH = "main"
IDENTITY = "mlxbench timeline <timeline@mlxbench.invalid>"
VERSION_FILE = "MLX_VERSION"
TORCH_VERSION_FILE = "TORCH_VERSION"
NONE = "none"
"""A version file's content where the framework has no release yet at that commit."""
_FRAMEWORK_ORDER = {"mlx": 0, "torch": 1}  # same upload second: MLX's commit first


@dataclass(frozen=True)
class Commit:
    """One timeline commit: the release it stands for and the pair it pins."""

    release: Release  # whose upload this commit is
    mlx: str | None  # MLX version pinned (None before MLX's first release)
    torch: str | None  # torch version pinned (None before the first catalogued torch)

    @property
    def framework(self) -> str:
        """The framework that changed at this commit."""
        return self.release.framework

    @property
    def tag(self) -> str:
        return self.release.tag

    @property
    def timestamp(self) -> int:
        """The release's upload time, seconds since the epoch: the commit's date."""
        return int(datetime.fromisoformat(self.release.date.replace("Z", "+00:00")).timestamp())

    @property
    def message(self) -> str:
        other = "torch" if self.framework == "mlx" else "mlx"
        pinned = self.torch if other == "torch" else self.mlx
        return f"{self.framework} {self.release.version} ({other} {pinned or NONE})\n"

    def files(self) -> dict[str, str]:
        return {VERSION_FILE: f"{self.mlx or NONE}\n", TORCH_VERSION_FILE: f"{self.torch or NONE}\n"}


def _keyed(releases: Sequence[Release]) -> Iterator[tuple[tuple[str, int, int], Release]]:
    """Sort keys that keep a catalog's own (append-only) order.

    A release the index lists late goes last in its catalog, stamped with the
    time a refresh first saw it (``listed``, see :func:`releases.update`); its
    key is that time, and never earlier than the entries before it, so it lands
    at the end of the timeline instead of rewriting the commits after its date.
    """
    newest = ""
    for i, release in enumerate(releases):
        newest = max(newest, release.listed or release.date)
        yield (newest, _FRAMEWORK_ORDER[release.framework], i), release


def plan(mlx: Sequence[Release] | None = None, torch: Sequence[Release] | None = None) -> list[Commit]:
    """The timeline's commits, oldest first; None takes the committed catalog of that framework."""
    mlx = catalog.load("mlx") if mlx is None else mlx
    torch = catalog.load("torch") if torch is None else torch
    merged = sorted([*_keyed(mlx), *_keyed(torch)], key=lambda kr: kr[0])
    commits: list[Commit] = []
    newest: dict[str, str | None] = {"mlx": None, "torch": None}
    for _, release in merged:
        current = newest[release.framework]
        is_newest = current is None or Version(release.version) > Version(current)
        if release.framework == "torch" and not is_newest:
            continue  # an older series' patch: nobody's newest torch, no commit
        if is_newest:
            newest[release.framework] = release.version
        pins = {**newest, release.framework: release.version}  # an MLX commit pins its own release
        commits.append(Commit(release, pins["mlx"], pins["torch"]))
    return commits


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    result = subprocess.run(
        ["git", "-c", "core.autocrlf=false", *args], cwd=repo, input=stdin, capture_output=True, check=True
    )
    return result.stdout.decode()


def _data(text: str) -> list[str]:
    return [f"data {len(text.encode())}", text.rstrip("\n")]


def _fast_import_stream(commits: Sequence[Commit]) -> bytes:
    """One deterministic commit per entry, each parented on the previous one."""
    out: list[str] = []
    for mark, commit in enumerate(commits, start=1):
        out += [
            f"commit refs/heads/{BRANCH}",
            f"mark :{mark}",
            f"author {IDENTITY} {commit.timestamp} +0000",
            f"committer {IDENTITY} {commit.timestamp} +0000",
            *_data(commit.message),
        ]
        if mark > 1:
            out.append(f"from :{mark - 1}")
        for name, content in commit.files().items():
            out += [f"M 100644 inline {name}", *_data(content)]
        out.append("")
    for mark, commit in enumerate(commits, start=1):
        out += [f"reset refs/tags/{commit.tag}", f"from :{mark}", ""]
    return ("\n".join(out) + "\n").encode()


def sync(path: Path, mlx: Sequence[Release] | None = None, torch: Sequence[Release] | None = None) -> dict[str, str]:
    """Create or update the timeline at ``path``; returns tag -> commit hash, oldest first.

    ``mlx`` and ``torch`` default to the committed catalogs (pass ``torch=[]``
    for an MLX-only timeline). Re-running with the same or longer catalogs is
    safe: the objects are the same, so existing hashes stay and only new
    commits and tags appear.
    """
    path = Path(path)
    if not (path / "HEAD").exists() and not (path / ".git").exists():
        path.mkdir(parents=True, exist_ok=True)
        _git(path, "init", "--quiet", "--bare", f"--initial-branch={BRANCH}")
    commits = plan(mlx, torch)
    if commits:
        _git(path, "fast-import", "--quiet", "--force", stdin=_fast_import_stream(commits))
    return tags(path)


class UnknownRevision(ValueError):
    """git cannot read a revision or range in the timeline (its message is git's)."""


def revisions(path: Path, range_spec: str) -> list[str]:
    """The commit hashes ``git rev-list --first-parent`` gives for ``range_spec`` in the timeline, as ASV asks."""
    try:
        return _git(Path(path), "rev-list", "--first-parent", *shlex.split(range_spec), "--").split()
    except subprocess.CalledProcessError as exc:
        said = exc.stderr.decode(errors="replace").strip().splitlines()
        raise UnknownRevision(said[0] if said else f"git exited {exc.returncode}") from None
    except ValueError as exc:  # shlex: an unclosed quote
        raise UnknownRevision(str(exc)) from None


def tags(path: Path) -> dict[str, str]:
    """tag -> commit hash, in timeline order (oldest first)."""
    out = _git(Path(path), "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/tags")
    pairs = dict(line.split() for line in out.splitlines())
    order = _git(Path(path), "rev-list", "--reverse", BRANCH).split()
    by_hash = {h: t for t, h in pairs.items()}
    return {by_hash[h]: h for h in order if h in by_hash}
