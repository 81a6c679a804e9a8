"""``mlxbench compare``: two releases measured now in interleaved rounds, only the changes beyond the noise."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from mlxbench import selection
from mlxbench.commands import options, output

if TYPE_CHECKING:
    from mlxbench.history.compare import ComparePlan


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
    options.add_metric(p, "what to compare (instructions: one counted run per side, a change is any beyond 0.1%%)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan the comparison of both releases and measure it (:func:`measure`); its exit status."""
    from mlxbench.history import asv_project, compare

    preset = selection.preset(args.preset)
    p = compare.plan(
        asv_project.repository(preset),
        options.selection(args, preset),
        args.base,
        args.head,
        rounds=compare.DEFAULT_ROUNDS if args.rounds is None else args.rounds,
        fail_above=args.fail_above,
        quick=args.quick,
        metric=args.metric,
    )
    return measure(p)


def measure(p: ComparePlan) -> int:
    """Measure and judge a planned comparison, its rounds on stderr, then print its table; its exit status."""
    from mlxbench.history import compare, compare_counts

    output.skipped(p.unavailable)
    outcome = (compare_counts.run if p.metric == "instructions" else compare.run)(p, output.progress)
    for warning in outcome.warnings:
        print(warning, file=sys.stderr)
    print(outcome.table)
    if outcome.recorded:
        print(outcome.recorded)
    if outcome.failure:
        print(outcome.failure, file=sys.stderr)
    return outcome.code
