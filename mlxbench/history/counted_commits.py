"""Where a counted history counts each backend: only at the commits where its count can move.

A count moves only when the code a call runs changes (docs/method.md, "Counted instructions"), so:

- a torch backend runs one torch build at every commit that has it: it is counted at the first
  selected commit of each build (pinned mode: once); the other commits are the control;
- ``mlx_cpu_compile`` runs what ``mlx_cpu`` runs for an op whose compiled graph is the op itself:
  where the stored counts prove that (:func:`compile_neutral`), the compiled backend
  is counted at the run's first and last commits only, and those counts check the proof again.

``every_commit`` (``mlxbench history --every-commit``) counts every backend everywhere: the control.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlxbench.catalog.spec import Op
from mlxbench.harness import benchmark_names, counting
from mlxbench.harness.backends import BACKENDS, Backend
from mlxbench.harness.benchmark_names import INSTRUCTIONS
from mlxbench.history.commits import Selected
from mlxbench.store import files

PROOF_COMMITS = 2
"""Stored commits an op needs, counted both compiled and not, before compiling is taken to change nothing."""


@dataclass(frozen=True)
class CountGroup:
    """Commits that count the same ops on the same backends: one ``asv run``."""

    commits: tuple[Selected, ...]
    counts: tuple[tuple[Backend, tuple[Op, ...]], ...]
    """Each backend counted at these commits, with its ops."""

    @property
    def hashes(self) -> list[str]:
        return [s.hash for s in self.commits]

    def describe(self) -> str:
        """``v0.2.0, v0.32.4: mlx_cpu (23 ops), torch_cpu (23 ops)``."""
        what = ", ".join(f"{b.name} ({len(ops)} op{'s' if len(ops) != 1 else ''})" for b, ops in self.counts)
        return f"{', '.join(s.tag for s in self.commits)}: {what}"


def uncompiled(backend: Backend) -> Backend | None:
    """The backend a compiled one compiles for (``mlx_cpu`` for ``mlx_cpu_compile``); None if it is not compiled."""
    if not backend.compiled:
        return None
    return next(
        (
            b
            for b in BACKENDS.values()
            if not b.compiled and b.framework == backend.framework and b.device == backend.device
        ),
        None,
    )


def _stored_counts(path: Path, backends: Collection[str]) -> dict[tuple[str, str, str], float]:
    """(op, backend, params) -> instructions of one result file, whatever counting method's revision stored them."""
    doc = files.read_result(path)
    columns = doc.get("result_columns") or []
    out = {}
    for name, values in doc["results"].items():
        bench = benchmark_names.parse(name)
        if bench is None or bench.kind != INSTRUCTIONS or bench.backend not in backends:
            continue
        entry = dict(zip(columns, values))
        for combo, value in zip(itertools.product(*(entry.get("params") or [[]])), entry.get("result") or []):
            if isinstance(value, (int, float)) and value > 0:
                out[(bench.op, bench.backend, repr(combo))] = float(value)
    return out


def compile_neutral(results_dir: Path, ops: Iterable[Op], compiled: Backend) -> set[str]:
    """The ops whose compiled counts equal their uncompiled ones in every stored result file, of every machine.

    Equal is no variant :func:`~mlxbench.harness.counting.changed` between the two backends of one machine,
    commit and environment; an op needs :data:`PROOF_COMMITS` such files, and one changed variant anywhere
    disproves it. What MLX compiles is the release's, not the machine's or the counting method's: counts of
    every machine and method revision are read.
    """
    plain = uncompiled(compiled)
    wanted = {op.name for op in ops}
    if plain is None:
        return set()
    proved: dict[str, int] = {}
    disproved: set[str] = set()
    for path in (path for folder in files.machine_dirs(Path(results_dir)) for path in files.result_files(folder)):
        try:
            counts = _stored_counts(path, (plain.name, compiled.name))
        except ValueError:
            continue
        pairs: dict[str, list[bool]] = {}
        for (op, backend, combo), value in counts.items():
            if op in wanted and backend == compiled.name and (base := counts.get((op, plain.name, combo))):
                pairs.setdefault(op, []).append(counting.changed(base, value))
        for op, moved in pairs.items():
            if any(moved):
                disproved.add(op)
            proved[op] = proved.get(op, 0) + 1
    return {op for op, n in proved.items() if n >= PROOF_COMMITS and op not in disproved}


def one_build_throughout(backend: Backend, pinned: bool) -> bool:
    """Whether ``backend`` runs one build at every commit: torch's where the environment pins torch.

    Its counts cannot differ between commits: a history counts it once, a compare not at all.
    """
    return pinned and backend.framework == "torch"


def groups(
    commits: Sequence[Selected],
    ops: Sequence[Op],
    backends: Sequence[Backend],
    pinned: bool,
    neutral: Mapping[str, Collection[str]] | None = None,
    every_commit: bool = False,
) -> list[CountGroup]:
    """The counted history's ``asv run`` s: commits grouped by what they count, in the order they first appear.

    ``neutral``: compiled backend -> the ops :func:`compile_neutral` proved (counted at both ends only there).
    """
    neutral = neutral or {}
    seen_builds: set[str | None] = set()
    plan: dict[
        tuple[tuple[str, tuple[str, ...]], ...], tuple[list[tuple[Backend, tuple[Op, ...]]], list[Selected]]
    ] = {}
    for n, s in enumerate(commits):
        new_build = s.commit.torch not in seen_builds
        seen_builds.add(s.commit.torch)
        at_end = n in (0, len(commits) - 1)
        counts = []
        for b in backends:
            if b.framework == "torch" and not every_commit:
                counted_before = n > 0 if one_build_throughout(b, pinned) else not new_build
                if counted_before:
                    continue
            chosen = tuple(op for op in ops if every_commit or at_end or op.name not in neutral.get(b.name, ()))
            if chosen:
                counts.append((b, chosen))
        if counts:
            names = tuple((b.name, tuple(op.name for op in chosen)) for b, chosen in counts)
            plan.setdefault(names, (counts, []))[1].append(s)
    return [CountGroup(tuple(selected), tuple(counts)) for counts, selected in plan.values()]
