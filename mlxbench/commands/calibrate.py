"""``mlxbench calibrate``: each backend's copy bandwidth and matmul throughput here, for the roofline shares."""

from __future__ import annotations

import argparse

from mlxbench import selection
from mlxbench.commands import output


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="measure each backend's bandwidth and matmul ceilings (for --metric roofline)",
        description="Measure each backend's copy bandwidth and matmul throughput here, for the roofline shares "
        "(report --metric roofline and the chip pages).",
    )
    p.add_argument("--backend", action="append", help="a backend name (repeatable; default: all available)")
    p.add_argument("--machine", help="ASV machine name (default: named after the chip)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Measure each available backend (its figures on stderr as they come), then append them to the machine's file;
    a folder of another host's is refused before anything is measured."""
    from mlxbench.harness import ceilings
    from mlxbench.history import asv_project, asv_run
    from mlxbench.store import ceilings as stored_ceilings

    backends, _ = asv_run.runnable(selection.backends(args.backend))
    project = asv_project.repository()
    machine_dir = project.results_dir / asv_run.machine_for(project, args.machine)["machine"]
    measured = []
    err = output.console(stderr=True)
    for backend in backends:
        with err.status(f"calibrating {backend.name}: copy bandwidth, then matmul throughput"):
            measured.append(ceilings.measure(backend))
        c = measured[-1]
        sizes = ", ".join(f"{int(b) / 2**20:g} MB {g:.1f}" for b, g in c.bandwidth_gbs.items())
        err.print(f"{backend.name}: GB/s by bytes moved: {sizes}; {c.gflops:.1f} GFLOP/s (matmul n={c.matmul_n})")
    print(f"appended {len(measured)} ceilings to {stored_ceilings.save(machine_dir, measured)}")
    return 0
