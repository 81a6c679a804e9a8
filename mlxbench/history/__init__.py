"""How a chip's history across releases is made with ASV.

Holds the release catalogs, the deterministic release timeline (a git
repository ASV benchmarks), ASV's install step, the machine's name and the
main job's ``asv run``.

May import the catalog, the harness's public names (backends, versions, the
ASV suite's preset variable), the release timeline (:mod:`mlxbench.stack`),
the results store (:mod:`mlxbench.store`) and the noise rules
(:mod:`mlxbench.noise`, :mod:`mlxbench.verdicts`); never the report, the CLI or
its commands (:mod:`mlxbench.commands` prints what a run measured).
"""
