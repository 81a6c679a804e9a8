"""ASV's install step: install the MLX release a timeline commit pins.

Run by ASV inside its environment as
``python {conf_dir}/mlxbench/history/asv_install.py {build_dir}``. A release with no
wheel for this interpreter and platform fails this step with a clear message;
ASV then records that commit as not installable and goes on with the others.
Set ``MLXBENCH_MLX_ACCELERATOR=cuda12`` (or ``cuda13``) for mlx's CUDA build.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from mlxbench.history import releases  # noqa: E402
from mlxbench.history.timeline import VERSION_FILE  # noqa: E402


def main(build_dir: str) -> int:
    version = (Path(build_dir) / VERSION_FILE).read_text().strip()
    try:
        release = releases.find(version, releases.load())
    except KeyError:
        print(
            f"mlxbench: mlx {version} is not in the release catalog; run `mlxbench releases refresh`", file=sys.stderr
        )
        return 1
    if not release.installs_here():
        print(f"mlxbench: mlx {version} has no wheel for this Python and platform; skipped", file=sys.stderr)
        return 1
    requirement = release.requirement(sys.platform, os.environ.get("MLXBENCH_MLX_ACCELERATOR") or None)
    print(f"mlxbench: installing {requirement}")
    return subprocess.call(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement]
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
