"""``asv publish`` through this repository's configuration publishes what can be published, and names the rest.

A result file whose numbers no graph may show (:mod:`mlxbench.store.publishable`) stops ASV's publish or
draws a number that is no measurement. For the length of the command, the configuration's ``results_dir`` is
a folder of links to everything else; each file or folder left out is named in one line with its first
problem. ``mlxbench publish``, ``asv publish`` and ``asv preview``'s first publish all run through here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlxbench.store import publishable


def _shown(path: Path) -> str:
    """``path`` relative to the current directory where it lies under it."""
    try:
        return os.path.relpath(path) if Path(path).is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


@contextmanager
def screened(conf: Any) -> Iterator[dict[Path, str]]:
    """``conf.results_dir``, for the block, without what the site leaves out (each said in one line); what that is."""
    from asv.console import log

    results_dir = Path(conf.results_dir).resolve()
    skipped = publishable.left_out(results_dir)
    if not skipped:
        yield skipped
        return
    with tempfile.TemporaryDirectory(prefix="mlxbench-publish-") as tmp:
        publishable.view(results_dir, Path(tmp) / results_dir.name, skipped)
        for path, why in skipped.items():
            log.warning(f"mlxbench: left out of the site: {_shown(path)}: {why}")
        original, conf.results_dir = conf.results_dir, str(Path(tmp) / results_dir.name)
        try:
            yield skipped
        finally:
            conf.results_dir = original
