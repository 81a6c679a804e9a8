"""ASV's machine registry (``~/.asv-machine.json``): this host's entry, written atomically.

ASV looks a ``--machine`` name up there before it runs; ASV's own writer
truncates and rewrites the file, so a crash midway leaves every later
``asv run`` without a registry. Entries of other machines are kept as they are.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlxbench.store import files

API_VERSION = 1
"""ASV's ``MachineCollection.api_version``."""


def registry_path() -> Path:
    """Where ASV keeps its machines: ``~/.asv-machine.json``."""
    return Path("~/.asv-machine.json").expanduser()


def register(info: Mapping[str, Any], path: Path | None = None) -> Path:
    """Write ``info`` as its machine's entry (``info["machine"]``), as ASV's ``asv machine`` would; the path.

    An unreadable registry is set aside (``.unreadable``) rather than overwritten silently.
    """
    path = registry_path() if path is None else Path(path)
    doc: dict[str, Any] = {}
    if path.exists():
        try:
            doc = files.read_object(path)
        except (OSError, ValueError) as exc:
            aside = path.with_name(path.name + files.SET_ASIDE_SUFFIX)
            path.replace(aside)
            print(
                f"mlxbench: {path} was not readable ({exc}); set aside as {aside.name}, a new one written",
                file=sys.stderr,
            )
    doc[str(info["machine"])] = dict(info)
    doc["version"] = API_VERSION
    files.write_atomic(path, json.dumps(doc, indent=4, sort_keys=True))
    return path
