"""How a chip's history across releases is made with ASV.

Holds the ASV project (its configurations), ASV's install step and environment
plugin, the machine's name, the three jobs (the main job, a history,
``mlxbench compare``: each ``plan(project, selection)`` then ``run(plan)``),
quiet samples, the measurement lock, submit and the migrations. The release
catalogs and the timeline ASV benchmarks are :mod:`mlxbench.stack`'s.

May import the catalog, the harness's public names (backends, versions, the
ASV suite's preset variable), the user's selection (:mod:`mlxbench.selection`),
the release timeline (:mod:`mlxbench.stack`), the results store
(:mod:`mlxbench.store`) and the noise rules (:mod:`mlxbench.noise`,
:mod:`mlxbench.verdicts`); never the report, the CLI or its commands
(:mod:`mlxbench.commands` prints what a job returns). Why: docs/architecture.md.
"""
