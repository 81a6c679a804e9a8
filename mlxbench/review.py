"""Contributed results checked as a maintainer would before merging them (``mlxbench check-results``).

A machine folder passes when it is one host's complete, current, thinned
measurement: a valid name whose page no other machine's takes, ``machine.json``
naming it and its host, every result file in ASV's schema and of that host,
every number positive, finite and plausible, every benchmark of the current
suite, every time result with its samples (at least :data:`MIN_SAMPLES`, so no
one-sample ``--quick`` run, and at most :data:`MAX_SAMPLES`: thinned by
``mlxbench submit``). Each problem is one line naming the file and what is wrong.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mlxbench.errors import UsageError
from mlxbench.harness import benchmark_names
from mlxbench.history import machine, submit
from mlxbench.report.plots import slug
from mlxbench.store import files, results

MIN_SAMPLES = submit.MIN_KEEP
MAX_SAMPLES = submit.KEEP_SAMPLES
HASH = re.compile(r"^[0-9a-f]{40}$")


def _machine_json(folder: Path, out: list[str]) -> dict[str, Any]:
    path = folder / files.MACHINE_FILE
    try:
        doc = files.read_object(path)
    except (OSError, ValueError) as exc:
        out.append(f"{path}: unreadable ({exc})")
        return {}
    if doc.get("machine") != folder.name:
        out.append(f"{path}: names the machine {doc.get('machine')!r}, not its folder {folder.name!r}")
    if not re.fullmatch(r"[0-9a-f]{6}", str(doc.get("host", ""))):
        out.append(f"{path}: no host id (measure with mlxbench, which records it)")
    return doc


def _schema(path: Path, doc: dict[str, Any], folder: Path, host: Any, out: list[str]) -> None:
    commit, env = str(doc.get("commit_hash")), doc.get("env_name")
    columns = doc.get("result_columns")
    if not HASH.match(commit):
        out.append(f"{path}: commit_hash {commit!r} is not a commit")
    if not isinstance(env, str) or path.name != f"{commit[:8]}-{env}.json":
        out.append(f"{path}: the file name is not <commit[:8]>-<env_name>.json")
    if not isinstance(columns, list) or not {"result", "params", "version"} <= set(columns):
        out.append(f"{path}: result_columns lacks result, params or version")
    params = doc.get("params") or {}
    if params.get("machine") != folder.name:
        out.append(f"{path}: measured as machine {params.get('machine')!r}, not {folder.name!r}")
    if host and params.get("host") != host:
        out.append(f"{path}: measured on host {params.get('host')!r}, the folder is host {host!r}'s")


def submit_command(folder: Path) -> str:
    """The ``mlxbench submit`` that thins ``folder``: with the preset whose results hold it, and its machine's name
    where that is not this host's."""
    from mlxbench.catalog import PRESETS
    from mlxbench.history import asv_project

    where = Path(folder).resolve().parent
    preset = next((p for p in PRESETS if asv_project.repository(p).results_dir == where), asv_project.DEFAULT_PRESET)
    flags = "" if preset == asv_project.DEFAULT_PRESET else f" --preset {preset}"
    if Path(folder).name != machine.describe()["machine"]:
        flags += f" --machine {shlex.quote(Path(folder).name)}"
    return f"mlxbench submit{flags}"


def _measurements(path: Path, out: list[str], submit_hint: str) -> None:
    found, problems = results.read_file(path)
    out += [f"{path}: {p}" for p in problems]
    for m in found:
        if not m.ok:
            continue
        where = f"{path}: {benchmark_names.build(m.op, m.kind, m.backend)}({', '.join((m.variant, *m.axes))})"
        if why := results.implausible(m.kind, float(m.value)):
            out.append(f"{where}: {why}")
        if m.kind != "time":
            continue
        count = len(m.samples or ())
        if count < MIN_SAMPLES:
            out.append(f"{where}: {count} sample(s), fewer than {MIN_SAMPLES}: a trial (--quick) or unrecorded run")
        elif count > MAX_SAMPLES:
            out.append(f"{where}: {count} samples, not thinned (run `{submit_hint}`)")


def check_folder(folder: Path, others: Iterable[Path] = ()) -> list[str]:
    """Every problem of one machine folder (empty: it passes); ``others`` are the folders its page must not take."""
    out: list[str] = []
    try:
        machine.check_name(folder.name)
    except UsageError as exc:
        out.append(f"{folder}: {exc}")
    taken = {slug(o.name): o.name for o in others if o.name != folder.name}
    if slug(folder.name) in taken:
        out.append(f"{folder}: its page would be {taken[slug(folder.name)]!r}'s ({slug(folder.name)}.html)")
    host = _machine_json(folder, out).get("host")
    paths = files.result_files(folder)
    hint = submit_command(folder) if paths else ""
    if not paths:
        out.append(f"{folder}: no ASV result files")
    strays = [p.name for p in folder.iterdir() if p.suffix == ".json" and p not in paths and p.name != "machine.json"]
    out += [f"{folder / name}: not an ASV result file (ASV reads every *.json here)" for name in sorted(strays)]
    leftovers = [p.name for p in folder.iterdir() if p.name.endswith((files.SET_ASIDE_SUFFIX, ".tmp"))]
    out += [f"{folder / name}: a leftover of an interrupted write, not results" for name in sorted(leftovers)]
    for path in paths:
        try:
            doc = files.read_result(path)
        except ValueError as exc:
            out.append(f"{path}: {exc}")
            continue
        _schema(path, doc, folder, host, out)
        try:
            _measurements(path, out, hint)
        except ValueError as exc:
            out.append(f"{path}: {exc}")
    return out


def check(folders: Sequence[Path], results_dir: Path) -> list[str]:
    """The problems of each folder, each checked against every machine folder of ``results_dir`` too."""
    everyone = list(dict.fromkeys([*files.machine_dirs(results_dir), *folders]))
    out: list[str] = []
    for folder in folders:
        if not folder.is_dir():
            out.append(f"{folder}: not a folder")
            continue
        out += check_folder(folder, everyone)
    return out
