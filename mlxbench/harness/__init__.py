"""How one op is run and timed on one backend.

Holds the backends (device placement, compilation, warm-up, synchronization),
framework version probing, the ASV classes built from the catalog, the audit of
the timing method, verification against float64, the work each variant does
(bytes, FLOPs) and the measured ceilings (calibrate).

May import :mod:`mlxbench.catalog` and :mod:`mlxbench.errors`; nothing from
history or report.
"""
