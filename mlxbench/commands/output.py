"""What every command shares when it prints: the console, paths as the user types them, the closing lines."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from mlxbench.history.asv_project import AsvProject


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr); piped output keeps full rows instead of wrapping to 80 columns."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=200)


def shown(path: Path | str) -> str:
    """A path as the user can type it: relative to the working directory where it lies under it."""
    path = Path(path).absolute()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def closing(paths: Sequence[Path | str], next_command: str | None) -> None:
    """The last lines of a command that wrote files: each path, then the command to run next.

    On stderr, so stdout stays the command's own output (a report piped to a file).
    Every command that writes for the user ends with it: bench, history, publish, report --plots.
    """
    err = console(stderr=True)
    for path in paths:
        err.print(f"wrote {escape(shown(path))}", highlight=False, soft_wrap=True)
    if next_command:
        err.print(f"next: {escape(next_command)}", highlight=False, soft_wrap=True)


def unchanged(path: Path | str, next_command: str) -> None:
    """The closing lines of a command that wrote nothing: where the results it kept are, and what to run next."""
    err = console(stderr=True)
    err.print(f"unchanged: {escape(shown(path))}", highlight=False, soft_wrap=True)
    err.print(f"next: {escape(next_command)}", highlight=False, soft_wrap=True)


def preset_flag(preset: str) -> str:
    """The ``--preset`` a next command needs to name this preset: none for the default one."""
    return "" if preset == "default" else f" --preset {preset}"


def after_measuring(machine_dir: Path, preset: str) -> str:
    """The command to run after a job wrote into ``machine_dir``: ``submit`` where git tracks it, else ``publish``.

    Committed results take new samples unthinned, which check-results (and so ``make test``) refuses until submit.
    """
    from mlxbench.store import tracked

    flag = preset_flag(preset)
    if tracked.committed(machine_dir):
        return (
            f"mlxbench submit{flag}  (this machine's results are committed: submit thins the new samples for a "
            f"commit, as check-results and make test require; then mlxbench publish{flag})"
        )
    return f"mlxbench publish{flag}"


def machine_results(project: AsvProject, machine_name: str | None) -> Path:
    """Where bench and history file this machine's results (``--machine`` or the chip-and-host name)."""
    from mlxbench.history import machine

    return project.results_dir / (machine_name or machine.describe()["machine"])


def progress(line: str) -> None:
    """A job's progress as it runs, on stderr (stdout stays the command's own output)."""
    print(line, file=sys.stderr, flush=True)


def skipped(unavailable: dict[str, str]) -> None:
    """The selected backends a job leaves out, each with the reason, on stderr."""
    for name, reason in unavailable.items():
        progress(f"skipping {name}: {reason}")


def trial_closing(results: Path, config: Path) -> None:
    """A trial run's closing lines: its own results folder, and how to look at it (never history's publish)."""
    where = shlex.quote(shown(Path(config).parent))
    closing([results], f"(cd {where} && asv publish)  (a trial: --quick runs are never history)")
