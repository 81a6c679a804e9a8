"""What may be timed: verification run in child processes, so a framework that aborts fails checks, not the run.

MLX 0.2.0 and 0.21.1 end the whole process on a float16 matmul on the CPU
(``terminate called ... [Matmul::eval_cpu] Currently only supports float32``):
no Python code can catch that. So the checks run in a fresh interpreter; where
it dies, the work is split (by op, then backend, then dtype) until each abort
is pinned to the (op, backend, dtype) that causes it, whose variants become
failed checks. Ops that are not the catalog's own (tests replace functions)
cannot be named to a child and run in this process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from mlxbench.catalog import CATALOG
from mlxbench.catalog.spec import DTYPES, Op, dtype_of
from mlxbench.harness.backends import BACKENDS, Backend
from mlxbench.harness.verify import Row, progress_lines, verify

Subset = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
"""(op names, backend names, dtypes) one child verifies."""
Child = Callable[[str, Subset], "list[Row] | None"]


def in_child(preset: str, subset: Subset) -> list[Row] | None:
    """The rows of ``subset``, verified in a fresh interpreter (its progress on stderr); None where it died."""
    argument = json.dumps([preset, *map(list, subset)])
    done = subprocess.run([sys.executable, "-m", __name__, argument], stdout=subprocess.PIPE, text=True, check=False)
    return [Row(**row) for row in json.loads(done.stdout)] if done.returncode == 0 else None


def checks(
    ops: Sequence[Op], preset: str, backends: Sequence[Backend], write: Callable[[str], None], child: Child = in_child
) -> list[Row]:
    """Every check of ``ops`` on ``backends``; a process that dies is a failed check of what killed it."""
    if any(CATALOG.get(op.name) is not op for op in ops):
        return verify(ops, preset, backends, on_variant=progress_lines(ops, write))
    dtypes = tuple(d for d in DTYPES if any(v.dtype == d for op in ops for v in op.variants(preset)))
    return _split(preset, (tuple(op.name for op in ops), tuple(b.name for b in backends), dtypes), child, write)


def _split(preset: str, subset: Subset, child: Child, write: Callable[[str], None]) -> list[Row]:
    found = child(preset, subset)
    if found is not None:
        return found
    for axis, values in enumerate(subset):
        if len(values) > 1:
            parts = [(*subset[:axis], (value,), *subset[axis + 1 :]) for value in values]
            return [row for part in parts for row in _split(preset, part, child, write)]  # type: ignore[arg-type]
    (name,), (backend,), (dtype,) = subset
    write(f"verify: {name} in {dtype} on {backend} ended the process (its message is above): failed")
    op = CATALOG[name]
    return [
        Row(name, v.id, backend, "FAIL", None, op.tolerance(v).describe(), "the process aborted")
        for v in op.variants(preset)
        if v.dtype == dtype
    ]


@dataclass(frozen=True)
class Verified:
    """What verification leaves to time: backends with an op that agrees, and the (op, backend, dtype) that do not."""

    backends: list[Backend]
    failed: frozenset[tuple[str, str, str]]


def passing(
    ops: Sequence[Op], preset: str, backends: Sequence[Backend], write: Callable[[str], None], child: Child = in_child
) -> Verified:
    """Which ops agree with float64 in which dtype on which backends; ``write`` gets progress and each failure.

    Run before timing (``mlxbench bench``, ``history``): an op that computes
    another function in a dtype on a backend gets no timings there (MLX's CPU
    quantized matmul sums bfloat16 in bfloat16), its other dtypes and the
    backend's other ops go on; a backend on which nothing agrees is not timed.
    """
    rows = checks(ops, preset, backends, write, child)
    failed = frozenset((r.op, r.backend, dtype_of(r.variant)) for r in rows if r.failed)
    for r in rows:
        if r.failed:
            write(f"verify FAILED: {r.op} {r.variant} on {r.backend}: {r.error}, {r.detail}")
    combos = {(op.name, v.dtype) for op in ops for v in op.variants(preset)}
    kept = []
    for backend in backends:
        bad = sorted((op, dtype) for op, name, dtype in failed if name == backend.name)
        if len(bad) == len(combos):
            write(f"not timing {backend.name}: it failed verification (`mlxbench verify --backend {backend.name}`)")
            continue
        kept.append(backend)
        if bad:
            listed = ", ".join(f"{op} {dtype}" for op, dtype in bad)
            write(f"not timing {listed} on {backend.name}: failed verification (`mlxbench verify --op {bad[0][0]}`)")
    checked = sum(r.status == "ok" for r in rows)
    write(f"verify: {checked} checks ok on {', '.join(b.name for b in kept) or 'none'}")
    names = {b.name for b in kept}
    return Verified(kept, frozenset(triple for triple in failed if triple[1] in names))


def main(argument: str) -> int:
    """The child: verify one subset, progress to stderr, the rows as JSON on stdout."""
    preset, ops, backends, dtypes = json.loads(argument)
    chosen = [CATALOG[name] for name in ops]
    rows = verify(
        chosen,
        preset,
        [BACKENDS[name] for name in backends],
        on_variant=progress_lines(chosen, lambda line: print(line, file=sys.stderr, flush=True)),
        dtypes=dtypes,
    )
    print(json.dumps([asdict(row) for row in rows]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
