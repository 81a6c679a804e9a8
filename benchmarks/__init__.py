"""ASV suite. ASV imports this package with PYTHONPATH stripped and a temporary
working directory, so make the repository's ``mlxbench`` package importable."""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
