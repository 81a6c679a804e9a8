"""``mlxbench submit``: this machine's results of a preset thinned for a commit, and the git command."""

from __future__ import annotations

import argparse

from mlxbench import selection
from mlxbench.commands import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "submit",
        help="thin this machine's samples for a commit and print the git command",
        description="Make this machine's results ready to commit: each variant keeps an evenly spaced sketch of its "
        "samples (ASV's statistics untouched), then prints the git command that adds them.",
    )
    options.add_preset(p)
    p.add_argument("--machine", help="ASV machine name (default: this machine's)")
    p.add_argument("--keep-samples", type=int, default=200, help="samples kept per variant (default: 200)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Thin the preset's results (:func:`mlxbench.history.submit.run`): the default's under results/, any other's
    in its own folder (the benchmark workflow keeps every preset's history)."""
    from mlxbench.history import asv_project, submit

    preset = selection.preset(args.preset)
    return submit.run(asv_project.repository(preset).results_dir, args.machine, args.keep_samples)
