"""What git holds of a machine folder: whether its results are committed, and whether they differ from the commit."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _git(folder: Path, *args: str) -> str | None:
    """``git <args>`` run in ``folder``; its output, or None where ``folder`` is not in a repository (or no git)."""
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def committed(folder: Path) -> bool:
    """Whether git tracks files in ``folder``: results a commit carries, which ``mlxbench submit`` thins first."""
    folder = Path(folder)
    return folder.is_dir() and bool(_git(folder, "ls-files", "--", "."))


def as_committed(folder: Path) -> bool:
    """Whether ``folder`` is committed and nothing in it differs from the commit (untracked or ignored files too)."""
    return committed(folder) and _git(Path(folder), "status", "--porcelain", "--ignored", "--", ".") == ""
