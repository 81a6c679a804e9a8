"""How a chip's history across releases is made with ASV.

Holds ASV's install step and environment plugin, the machine's name, the
main job's and a history's ``asv run``, quiet samples, the measurement lock,
``mlxbench compare``, submit and the migrations. The release catalogs and the
timeline ASV benchmarks are :mod:`mlxbench.stack`'s.

May import the catalog, the harness's public names (backends, versions, the
ASV suite's preset variable), the release timeline (:mod:`mlxbench.stack`),
the results store (:mod:`mlxbench.store`) and the noise rules
(:mod:`mlxbench.noise`, :mod:`mlxbench.verdicts`); never the report, the CLI or
its commands (:mod:`mlxbench.commands` prints what a run measured).
"""
