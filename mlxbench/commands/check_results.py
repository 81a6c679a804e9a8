"""``mlxbench check-results [FOLDER...]``: contributed results checked as a maintainer would; exit 1 on a problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlxbench.commands import output


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check-results",
        help="check machine folders of results before they are merged (default: every committed one)",
        description="Check results folders the way a maintainer would before merging them: ASV's schema, one host "
        "per folder, a valid name whose page no other machine takes, sane numbers, samples present and thinned, "
        "the current benchmark versions, no trial (--quick) results. Prints one line per problem; exit 1 if any.",
    )
    p.add_argument(
        "folders",
        nargs="*",
        type=Path,
        help="machine folders, or results directories for all of theirs (default: every one under results/)",
    )
    p.add_argument("--results", type=Path, help="the results directory they join (default: the repository's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan (which folders, against which results), run the checks, print one line per problem.

    A results directory named as a folder stands for its machine folders, which join it.
    """
    from mlxbench import review
    from mlxbench.history import asv_project
    from mlxbench.store import files

    results_dir = args.results or asv_project.repository().results_dir
    named = [Path(f) for f in args.folders if not files.is_results_dir(f)]
    groups = [(named, results_dir)] if named else []
    groups += [(files.machine_dirs(f), args.results or Path(f)) for f in args.folders if files.is_results_dir(f)]
    if not args.folders:
        groups = [(files.machine_dirs(results_dir), results_dir)]
    folders = [folder for group, _ in groups for folder in group]
    problems = [line for group, joins in groups for line in review.check(group, joins)]
    for line in problems:
        print(line)
    shown = ", ".join(output.shown(f) for f in folders) or "none"
    verdict = f"{len(problems)} problem(s)" if problems else "ok"
    print(f"check-results: {len(folders)} folder(s) ({shown}): {verdict}", file=sys.stderr)
    return 1 if problems else 0
