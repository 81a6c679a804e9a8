"""How a chip's history across releases is made with ASV.

Holds the release catalogs, the deterministic release timeline (a git
repository ASV benchmarks), ASV's install step, the machine's name and the
main job's ``asv run``.

May import the catalog, the harness's public names (backends, versions, the
ASV suite's preset variable) and, for the main job's closing tables, the report.
"""
