"""Which timeline commits a history runs: in range, where the chosen framework changed, whose release installs here.

A pinned configuration (its matrix pins torch) runs MLX commits only. Why: docs/architecture.md, "Commits".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from mlxbench.stack.releases import Release
from mlxbench.stack.timeline import Commit

FRAMEWORK_CHOICES = ("mlx", "torch", "all")


@dataclass(frozen=True)
class Selected:
    """A commit to run: its timeline entry and its hash."""

    commit: Commit
    hash: str

    @property
    def tag(self) -> str:
        return self.commit.tag


@dataclass
class Selection:
    """The commits to run, oldest first, and those in range left out with the reason (for the summary)."""

    commits: list[Selected] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (tag, reason)

    @property
    def hashes(self) -> list[str]:
        return [s.hash for s in self.commits]


def _position(ref: str, commits: Sequence[Commit], tags: Mapping[str, str]) -> int:
    """Index of a tag (``v0.31.1``, ``torch-v2.9.0``) or a commit hash (at least 7 hex digits)."""
    for i, commit in enumerate(commits):
        if ref == commit.tag or (len(ref) >= 7 and tags.get(commit.tag, "").startswith(ref)):
            return i
    raise ValueError(f"unknown release {ref!r}: give a timeline tag such as v0.31.1 or torch-v2.9.0, or a hash")


def _bounds(spec: str | None, commits: Sequence[Commit], tags: Mapping[str, str]) -> tuple[int, int]:
    """Inclusive index bounds of ``A..B``, ``A..``, ``..B`` or a single ``A``; None: everything."""
    if not spec:
        return 0, len(commits) - 1
    first, sep, last = spec.partition("..")
    if not sep:
        last = first
    lo = _position(first, commits, tags) if first else 0
    hi = _position(last, commits, tags) if last else len(commits) - 1
    if lo > hi:
        raise ValueError(f"empty range {spec!r}: {first} comes after {last} in the timeline")
    return lo, hi


def _indices(spec: str | None, commits: Sequence[Commit], tags: Mapping[str, str]) -> list[int]:
    """The timeline positions of a comma-separated list of ranges (``A..B,C``), in timeline order."""
    parts = [part.strip() for part in spec.split(",")] if spec else [None]
    if any(part == "" for part in parts):
        raise ValueError(f"empty part in {spec!r}: separate ranges or tags with single commas")
    chosen: set[int] = set()
    for part in parts:
        lo, hi = _bounds(part, commits, tags)
        chosen.update(range(lo, hi + 1))
    return sorted(chosen)


def select(
    commits: Sequence[Commit],
    tags: Mapping[str, str],
    spec: str | None = None,
    framework: str | None = None,
    pinned: bool = False,
    installs: Callable[[Release], bool] = Release.installs_here,
) -> Selection:
    """The commits in ``spec`` where ``framework`` changed and whose release of it installs here.

    ``commits`` is :func:`mlxbench.stack.timeline.plan`, ``tags`` what
    :func:`~mlxbench.stack.timeline.sync` returned. ``framework`` defaults to
    ``mlx`` where torch is pinned and ``all`` otherwise; asking for ``torch``
    on a pinned environment is an error, since every torch commit would measure
    the same torch.
    """
    framework = framework or ("mlx" if pinned else "all")
    if framework not in FRAMEWORK_CHOICES:
        raise ValueError(f"unknown framework {framework!r}; valid: {', '.join(FRAMEWORK_CHOICES)}")
    if pinned and framework == "torch":
        raise ValueError(
            "torch is pinned by this environment (the configuration's matrix): torch commits would all measure that "
            "torch; use a timeline-mode configuration (no torch in the matrix) for a torch history"
        )
    selection = Selection()
    for commit in (commits[i] for i in _indices(spec, commits, tags)):
        if framework != "all" and commit.framework != framework:
            continue
        if commit.framework == "torch" and pinned:
            selection.skipped.append((commit.tag, "torch is pinned by the environment"))
        elif not installs(commit.release):
            selection.skipped.append((commit.tag, f"{commit.framework} {commit.release.version} has no wheel here"))
        elif commit.tag not in tags:
            selection.skipped.append((commit.tag, "not in the synced timeline: run `mlxbench releases sync`"))
        else:
            selection.commits.append(Selected(commit, tags[commit.tag]))
    return selection
