"""``mlxbench``: the catalog, its verification, and benchmarking with ASV.

Exit status: 0 success, 1 a verification failed, 2 bad input (the message
names the valid choices), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import platform
import signal
import sys
from collections.abc import Sequence
from typing import Any

from mlxbench.commands import (
    bench,
    calibrate,
    catalog,
    check_results,
    compare,
    history,
    machine,
    migrate,
    publish,
    releases,
    report,
    submit,
    verify,
)
from mlxbench.errors import UsageError
from mlxbench.harness import versions

COMMANDS = (
    catalog,
    verify,
    bench,
    compare,
    history,
    submit,
    check_results,
    migrate,
    report,
    calibrate,
    publish,
    releases,
    machine,
)
"""The subcommands' modules, in the order ``mlxbench --help`` lists them (:mod:`mlxbench.commands`)."""
MEASURING = ("bench", "history", "compare", "calibrate")
"""The commands that measure: each holds the machine's measurement lock (:mod:`mlxbench.history.lock`)."""
WRITING = ("submit", "migrate")
"""Commands that rewrite results in place: they hold the lock too, so they never meet a run writing the same files."""


def version_text() -> str:
    """``mlxbench --version``: this package, the MLX and torch it measures, the ASV it runs, the Python under it."""
    from importlib.metadata import PackageNotFoundError, version

    import mlxbench

    try:
        asv = version("asv")
    except PackageNotFoundError:
        asv = "(not installed)"
    return "\n".join(
        [
            f"mlxbench {mlxbench.__version__}",
            f"mlx {versions.mlx_version()}",
            f"torch {versions.torch_version()}",
            f"asv {asv}",
            f"python {platform.python_version()} ({platform.system()} {platform.machine()})",
        ]
    )


class _VersionAction(argparse.Action):
    """``--version``, answered only when asked: importing torch to read its version takes seconds."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option_string: Any = None) -> None:
        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """Every command's parser (each sets ``func``, its ``run``), and ``--no-wait`` for those that measure."""
    parser = argparse.ArgumentParser(prog="mlxbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action=_VersionAction, help="the versions of mlxbench, MLX, torch, ASV and Python")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    for name in MEASURING + WRITING:
        sub.choices[name].add_argument(
            "--no-wait",
            action="store_true",
            help="refuse at once when another measurement holds this machine (default: wait for it)",
        )
    return parser


def _locked(args: argparse.Namespace) -> bool:
    """Whether the command measures or writes results: not a dry run, and migrate only with --apply."""
    if getattr(args, "dry_run", False):
        return False
    return args.command in MEASURING or (args.command in WRITING and getattr(args, "apply", True))


class Terminated(KeyboardInterrupt):
    """SIGTERM, ended as Ctrl-C is (its asv child killed, the lock released) with the status that says SIGTERM."""


def _refuse_another_hosts_folder(args: argparse.Namespace) -> None:
    """A measuring command's ``--machine`` naming no valid folder, or another host's, is refused before the lock is
    waited for (each command's plan checks it again)."""
    if args.command not in MEASURING or getattr(args, "machine", None) is None:
        return
    from mlxbench import selection
    from mlxbench.history import asv_project, asv_run

    asv_run.machine_for(asv_project.repository(selection.preset(getattr(args, "preset", "default"))), args.machine)


def _terminated(signum: int, frame: Any) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, then run the command (under the machine's lock where it measures or writes results); its exit status,
    2 on bad input, 130 when interrupted (Ctrl-C), 143 when terminated (SIGTERM), as shells report them."""
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminated)
    # SIGINT as from a terminal even where a script started this process ignoring it: its asv child takes SIGINT
    # (lock.call), and a run whose child was interrupted must stop too, not go on measuring and storing
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if _locked(args):
            from mlxbench.history import lock

            _refuse_another_hosts_folder(args)
            command = ["mlxbench", *(sys.argv[1:] if argv is None else argv)]
            with lock.measuring(command, wait=not args.no_wait):
                return args.func(args)
        return args.func(args)
    except UsageError as exc:
        print(f"mlxbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        kept = (
            "result files that were there before are as they were (but for the counts of a finished commit: they "
            "need no load check), results of commits measured for the first time are kept (ASV saves a commit's "
            "results when that commit's benchmarks end); the lock is released"
            if _locked(args)
            else "nothing was being measured"
        )
        how = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"mlxbench: {args.command} {how}: {kept}", file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


if __name__ == "__main__":
    sys.exit(main())
