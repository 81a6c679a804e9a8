"""``mlxbench submit``: this machine's default-preset results thinned for a commit, and the git command."""

from __future__ import annotations

import argparse

from mlxbench import selection
from mlxbench.commands import options
from mlxbench.errors import UsageError


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
    """Thin the default preset's results (:func:`mlxbench.history.submit.run`); other presets are refused."""
    from mlxbench.history import layout, submit

    preset = selection.preset(args.preset)
    if preset != layout.DEFAULT_PRESET:
        raise UsageError(f"only the default preset's results are submitted; {preset!r} results stay on this machine")
    return submit.run(layout.results_dir(preset), args.machine, args.keep_samples)
