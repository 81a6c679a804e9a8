"""float16 and bfloat16 against float32 on one machine: the geometric mean of per-variant time ratios, per backend.

    .venv/bin/python tools/dtype_averages.py "AMD EPYC (2C+24GB) 35c790"
    .venv/bin/python tools/dtype_averages.py MACHINE --default results --models .asv/presets/models/results

A variant's float16/bfloat16 time is divided by the same shape's float32 time:
the older suite's ops have their float32 in the default preset's results and
their half dtypes in the models preset's, the models preset's own ops all
three in its results. Only shapes measured in every dtype count. The runs of
two presets are minutes apart, so read ratios within about 10% as equal.
Reads the results; writes nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlxbench.catalog.spec import DTYPES, shape_id  # noqa: E402
from mlxbench.history import asv_project  # noqa: E402
from mlxbench.store import results  # noqa: E402


def times(result_sets: list[results.ResultSet], machine: str) -> dict[tuple[str, str, str], dict[str, float]]:
    """(backend, op, shape id) -> dtype -> seconds, the newest release's time results of ``machine``."""
    out: dict[tuple[str, str, str], dict[str, float]] = {}
    for loaded in result_sets:
        for m in loaded.measurements:
            if m.machine == machine and m.kind == "time" and m.ok and m.release == loaded.releases[-1]:
                out.setdefault((m.backend, m.op, shape_id(m.variant)), {})[m.dtype] = float(m.value)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("machine")
    parser.add_argument("--default", type=Path, default=asv_project.repository().results_dir)
    parser.add_argument("--models", type=Path, default=asv_project.repository("models").results_dir)
    args = parser.parse_args()
    tags = asv_project.repository().tags
    found = times([results.load(args.default, tags), results.load(args.models, tags)], args.machine)
    print("| backend | variants | float16 / float32 | bfloat16 / float32 | bfloat16 / float16 |")
    print("|---|---|---|---|---|")
    for backend in sorted({b for b, _, _ in found}):
        rows = [d for (b, _, _), d in found.items() if b == backend and set(DTYPES) <= set(d)]
        if not rows:
            continue

        def geo(num: str, den: str, rows: list[dict[str, float]] = rows) -> str:
            return f"{math.exp(sum(math.log(d[num] / d[den]) for d in rows) / len(rows)):.2f}x"

        fp16, bf16, half = geo("float16", "float32"), geo("bfloat16", "float32"), geo("bfloat16", "float16")
        print(f"| {backend} | {len(rows)} | {fp16} | {bf16} | {half} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
