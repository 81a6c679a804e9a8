"""``mlxbench list``: the catalog of a preset and the backends this machine can run."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from mlxbench import selection
from mlxbench.catalog.spec import Op
from mlxbench.commands import options, output
from mlxbench.harness import versions, work
from mlxbench.harness.backends import BACKENDS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "list",
        help="ops, their variants, and backends with availability",
        description="The catalog: every op of the preset with its variants (shapes, bytes moved, FLOPs, process "
        "footprint), and which backends this machine can run, with the reason for each it cannot.",
    )
    options.add_preset(p)
    p.add_argument("--json", action="store_true", help="one JSON object: ops, variants, backends")
    p.set_defaults(func=run)


def backend_status() -> dict[str, dict[str, Any]]:
    """Each backend: whether it runs here and, where it does not, why."""
    status = {}
    for name, backend in BACKENDS.items():
        reason = backend.unavailable()
        status[name] = {"available": reason is None, "reason": reason}
    return status


def _work_json(op: Op, variant) -> dict[str, Any]:
    w = work.of(op, variant)
    return {"in_bytes": w.in_bytes, "out_bytes": w.out_bytes, "flops": w.flops, "footprint_bytes": w.footprint}


def catalog_json(ops: Sequence[Op], preset: str) -> dict[str, Any]:
    """The ``mlxbench list --json`` document (a contract other tools read)."""
    return {
        "preset": preset,
        "versions": {"mlx": versions.mlx_version(), "torch": versions.torch_version()},
        "ops": [
            {
                "op": op.name,
                "variants": [
                    {
                        "id": v.id,
                        "shapes": {k: list(s) for k, s in v.shapes.items()},
                        "params": dict(v.params),
                        **_work_json(op, v),
                    }
                    for v in op.variants(preset)
                ],
            }
            for op in ops
        ],
        "backends": backend_status(),
    }


def run(args: argparse.Namespace) -> int:
    """The catalog as JSON (``--json``) or as two tables: the ops' work, the backends' availability."""
    preset = selection.preset(args.preset)
    doc = catalog_json(selection.ops(None, preset), preset)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    out = output.console()
    table = Table(
        title=f"ops in preset {preset!r}: bytes moved (inputs read + output written), FLOPs, process footprint"
    )
    for col in ("op", "variant", "MB moved", "MFLOP", "footprint MB"):
        table.add_column(col, justify="left" if col in ("op", "variant") else "right")
    for entry in doc["ops"]:
        for i, v in enumerate(entry["variants"]):
            table.add_row(
                entry["op"] if i == 0 else "",
                v["id"],
                f"{(v['in_bytes'] + v['out_bytes']) / 1e6:.3g}",
                f"{v['flops'] / 1e6:.3g}" if v["flops"] else "-",
                f"{v['footprint_bytes'] / 1e6:.3g}",
            )
    out.print(table)
    backends = Table(title=f"backends (mlx {doc['versions']['mlx']}, torch {doc['versions']['torch']})")
    backends.add_column("backend")
    backends.add_column("available")
    for name, state in doc["backends"].items():
        backends.add_row(name, "yes" if state["available"] else escape(f"no: {state['reason']}"))
    out.print(backends)
    return 0
