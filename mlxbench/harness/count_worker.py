"""A counting worker: counts a list of variants under valgrind, claiming each so that workers share the list.

Started by :class:`mlxbench.history.asv_launch.CountingWorkers` as
``valgrind ... python count_worker.py <items.json>``, the items a JSON list of
``[op, variant, backend]`` in the order to take them. It imports only the
frameworks its items need: a torch worker never has MLX in its process, so
no MLX release changes what torch's calls count. A variant another worker
claimed is skipped; what a variant raises is stored for ASV's reader and the
worker goes on. One line per variant goes to standard output (the worker's log).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(items_file: str) -> int:
    """Count every item of ``items_file`` no other worker claimed; 0 when the list is done."""
    from mlxbench.catalog import CATALOG
    from mlxbench.harness import asv_suite
    from mlxbench.harness.backends import BACKENDS

    items = [tuple(item) for item in json.loads(Path(items_file).read_text())]
    asv_suite.preimport_frameworks(sorted({BACKENDS[backend].framework for _, _, backend in items}))
    preset = asv_suite.preset_from_env()
    for op, variant, backend in items:
        started = time.perf_counter()
        try:
            counts = asv_suite.count_variant(CATALOG[op], variant, backend, preset)
        except Exception as exc:  # stored for the reader by counting.counted
            print(f"{op} {variant} {backend}: {type(exc).__name__}", flush=True)
            continue
        if counts is not None:
            seconds = time.perf_counter() - started
            print(f"{op} {variant} {backend}: {counts.instructions} instructions, {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    # run as a script from its own folder: that folder must not shadow modules of the same name
    sys.path[0] = str(Path(__file__).resolve().parents[2])
    sys.exit(main(sys.argv[1]))
