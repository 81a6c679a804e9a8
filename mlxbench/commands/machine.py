"""``mlxbench machine``: register this machine with ASV, named after its chip and host."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "machine",
        help="register this machine with ASV, named after its chip and host",
        description="Register this machine with ASV under its chip configuration and a hash of its host "
        '("<config> <host>"), with its cores, memory, GPU, threads and whether it is a virtual machine.',
    )
    p.add_argument("--name", help="override the generated name")
    p.add_argument("--name-only", action="store_true", help="print only the machine's name")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Register the machine and print its ASV entry (``--name-only``: its name)."""
    from mlxbench.history import machine

    info = machine.register(args.name)
    print(info["machine"] if args.name_only else json.dumps(info, indent=2))
    return 0
