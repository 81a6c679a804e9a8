"""``mlxbench compare``: two releases measured now in interleaved rounds, only the changes beyond the noise."""

from __future__ import annotations

import argparse

from mlxbench import selection
from mlxbench.commands import options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare",
        help="measure two releases in interleaved rounds; print only the changes beyond the noise",
        description="Measure two releases of the timeline now, in interleaved rounds (A then B in each), and "
        "print only the changes that beat the noise. The same release twice records this machine's repeatability.",
    )
    p.add_argument("base", help="the release to compare against, e.g. v0.31.1")
    p.add_argument("head", help="the release to test, e.g. v0.32.4 (the same release: measure repeatability)")
    options.add_selection(p)
    p.add_argument("--rounds", type=int, help="interleaved rounds, at least 2 (default: 4)")
    p.add_argument(
        "--fail-above",
        type=float,
        metavar="FACTOR",
        help="exit 1 when a change beyond the noise is a slowdown above FACTOR (e.g. 1.2)",
    )
    p.add_argument("--machine", help="ASV machine name (default: named after the chip and host)")
    p.add_argument("--quick", action="store_true", help="one sample, one round: checks the set-up, measures nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Measure and judge both releases (:func:`mlxbench.history.compare.run`, which prints its table); its status."""
    from mlxbench.history import compare

    preset = selection.preset(args.preset)
    return compare.run(
        args.base,
        args.head,
        preset,
        selection.ops(args.op, preset),
        selection.backends(args.backend),
        rounds=compare.DEFAULT_ROUNDS if args.rounds is None else args.rounds,
        fail_above=args.fail_above,
        machine_name=args.machine,
        quick=args.quick,
    )
