"""The ASV command this process runs, as the configuration's plugin sees it: its name, arguments and configuration.

ASV calls the plugin's ``setup`` (:mod:`mlxbench.history.asv_environment`) with neither: they are read again
here from ASV's own command line, with ASV's own parser, after ASV moved into the configuration's directory.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AsvCommand:
    """``asv <name> ...``: its parsed arguments and the configuration ASV loaded for it."""

    name: str
    args: argparse.Namespace
    conf: Any
    config: Path | None
    """The configuration file ``--config`` names (None: ASV's default in the current directory)."""

    @property
    def config_dir(self) -> Path:
        """Where ASV runs: the configuration's directory (relative paths of the configuration start here)."""
        return Path.cwd()

    def path(self, setting: str) -> Path:
        """A path setting of the configuration, resolved as ASV does (``results_dir``, ``html_dir``, ``repo``)."""
        return (self.config_dir / str(getattr(self.conf, setting))).resolve()


def is_asv(argv: Sequence[str]) -> bool:
    """Whether this process is ASV's command line (``asv ...`` or ``python -m asv ...``)."""
    program = Path(argv[0]) if argv else Path()
    return program.name == "asv" or program.parts[-2:] == ("asv", "__main__.py")


def parse(argv: Sequence[str]) -> AsvCommand | None:
    """The command ``argv`` runs, or None where this process is not ASV's command line or names no command.

    Called once ASV has moved into the directory of ``--config`` (ASV's ``main``), as plugins are.
    """
    if not is_asv(argv):
        return None
    from asv import commands
    from asv.config import Config

    parser, subparsers = commands.make_argparser()
    try:
        args = parser.parse_args(list(argv[1:]))
    except SystemExit:
        return None
    name = next((a for a in argv[1:] if a in subparsers.choices), None)
    if name is None:
        return None
    config = Path.cwd() / Path(args.config).name if args.config else None
    return AsvCommand(name, args, Config.load(config), config)
