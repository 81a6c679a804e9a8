"""The ``mlxbench`` subcommands, one module each (``list`` is :mod:`~mlxbench.commands.catalog`).

Each exposes ``add_parser(subparsers)``, its arguments and ``--help``
description, and ``run(args) -> int``: it plans, runs and prints, and returns
the exit status. What a command prints lives here, not in the modules that
measure or read results (:mod:`mlxbench.history`, :mod:`mlxbench.report`):
those return what they did, the command renders it. :mod:`mlxbench.cli`
assembles the parsers and dispatches; nothing else in the package imports this one.
"""
