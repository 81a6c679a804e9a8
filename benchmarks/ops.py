"""One ASV class per op of the catalog (``ops.Softmax.time_mlx_cpu`` and so on).

The classes are generated from ``mlxbench.catalog.CATALOG``: adding an op there
adds its benchmarks here. Choose the preset with ``MLXBENCH_PRESET``.
"""

from mlxbench.harness.asv_suite import benchmark_classes, preimport_frameworks, preset_from_env
from mlxbench.history.asv_project import check_preset

check_preset(preset_from_env())  # one preset per results directory: never overwrite another preset's history
preimport_frameworks()
globals().update(benchmark_classes(__name__))
