"""``python -m mlxbench``."""

import sys

from mlxbench.cli import main

sys.exit(main())
