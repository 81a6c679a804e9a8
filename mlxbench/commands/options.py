"""The options several commands share, spelled the same in each."""

from __future__ import annotations

import argparse

from mlxbench import selection as names
from mlxbench.catalog import PRESETS
from mlxbench.harness.benchmark_names import METRICS
from mlxbench.selection import Selection


def add_preset(p: argparse.ArgumentParser) -> None:
    """--preset: which variants of each op."""
    p.add_argument("--preset", default="default", help=f"one of {', '.join(PRESETS)} (default: default)")


def add_selection(p: argparse.ArgumentParser) -> None:
    """--preset, --op, --backend: the same spelling for every command that runs ops."""
    add_preset(p)
    p.add_argument("--op", action="append", help="an op name (repeatable; default: all)")
    p.add_argument("--backend", action="append", help="a backend name (repeatable; default: all available)")


def selection(args: argparse.Namespace, preset: str) -> Selection:
    """What --op, --backend and --machine ask a job to measure, in ``preset``."""
    return Selection(names.ops(args.op, preset), names.backends(args.backend), args.machine)


def add_metric(p: argparse.ArgumentParser, what: str) -> None:
    """--metric: seconds per call, or instructions counted under valgrind (CPU backends, Linux)."""
    p.add_argument(
        "--metric",
        default="time",
        choices=METRICS,
        help=f"{what}: time (seconds per call, the default) or instructions (one warm call counted by valgrind's "
        "callgrind, with simulated cache misses and a cycle estimate; CPU backends on Linux)",
    )
