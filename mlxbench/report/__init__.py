"""How stored ASV results become tables, plots and pages.

Holds the tables (average, detailed, history, race) of what the store reads
(:mod:`mlxbench.store`), built by :class:`~mlxbench.report.tables.Report` from a
query, an index and a judge (docs/report-architecture.md); their rendering
(markdown, csv, json), derived metrics (bandwidth, FLOP rate, roofline), plots,
the README's generated section and the offline ASV site.

May import the catalog, :mod:`mlxbench.errors`, :mod:`mlxbench.selection` and the harness's public
description of work, ceilings, backends and load records; never runs anything itself.
"""
