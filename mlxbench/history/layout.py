"""Where each preset's ASV results and site live, and the ASV configuration that puts them there.

ASV keys results by benchmark name, and every preset has the same benchmark
names with other variants: two presets in one results directory overwrite
each other's results and ``benchmarks.json``, and the site shows whichever ran
last. So each preset has its own directories:

- ``default``: the repository's ``asv.conf.json`` (``results/``, ``html/``), the
  history that is committed and published;
- any other preset: a configuration generated from it,
  ``.asv/presets/<preset>/asv.conf.json``, with ``results/`` and ``html/`` beside
  it (gitignored), sharing the timeline and ASV's environments.

Every configuration names its preset (``"mlxbench_preset"``), and the suite
refuses to run another one under it (:func:`check_preset`), so
``MLXBENCH_PRESET=tiny asv run`` in the repository cannot overwrite the
default results. ``mlxbench compare`` measures into configurations of its own
under ``.asv/compare/`` and never touches a history, and a trial run
(``--quick``) writes under ``.asv/trial/`` (:func:`trial_config`).

A preset's history in timeline mode (each commit's own torch) runs under a
third kind of configuration, ``.asv/timeline-mode/<preset>/asv.conf.json``
(:func:`timeline_config`): the preset's, with torch out of the matrix, writing
to the preset's own results and site. Its environment names carry no torch, so
its results sit beside the pinned series in the same machine folders without
ever sharing a file with them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlxbench.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
CONFIG_NAME = "asv.conf.json"
PRESET_KEY = "mlxbench_preset"
"""The configuration's own preset: the suite refuses to run any other under it."""
DEFAULT_PRESET = "default"
PLUGIN = ".mlxbench.history.asv_environment"
"""How ``asv.conf.json`` loads the ``installed`` environment (ASV imports dotted names relative to the cwd)."""


def _state_dir(root: Path) -> Path:
    return Path(root) / ".asv"


def preset_dir(preset: str, root: Path = ROOT) -> Path:
    """The directory of a non-default preset's configuration, results and site."""
    return _state_dir(root) / "presets" / preset


def load_conf(path: Path) -> dict[str, Any]:
    """An ASV configuration as ASV reads it (``//`` comments allowed)."""
    if not Path(path).exists():
        raise UsageError(f"no {Path(path).name} at {Path(path).parent}: run mlxbench from a clone of the repository")
    from asv.util import load_json

    return load_json(str(path), js_comments=True)


def asv_config(preset: str, root: Path = ROOT) -> Path:
    """The ASV configuration of ``preset``: the repository's for default, else a generated one (written now)."""
    if preset == DEFAULT_PRESET:
        return Path(root) / CONFIG_NAME
    return write_derived_config(Path(root) / CONFIG_NAME, preset_dir(preset, root), preset)


def results_dir(preset: str, root: Path = ROOT) -> Path:
    """Where ``preset``'s results live (``results/`` for default)."""
    if preset == DEFAULT_PRESET:
        return Path(root) / load_conf(Path(root) / CONFIG_NAME)["results_dir"]
    return preset_dir(preset, root) / "results"


def html_dir(preset: str, root: Path = ROOT) -> Path:
    """Where ``asv publish`` writes ``preset``'s site (``html/`` for default)."""
    if preset == DEFAULT_PRESET:
        return Path(root) / load_conf(Path(root) / CONFIG_NAME)["html_dir"]
    return preset_dir(preset, root) / "html"


def timeline_dir(preset: str, root: Path = ROOT) -> Path:
    """The directory of ``preset``'s timeline-mode configuration (its results are the preset's own)."""
    return _state_dir(root) / "timeline-mode" / preset


def timeline_config(preset: str, root: Path = ROOT) -> Path:
    """The ASV configuration of ``preset`` in timeline mode (written now): torch comes from each commit."""
    return write_timeline_config(asv_config(preset, root), timeline_dir(preset, root), preset)


def write_timeline_config(base_path: Path, directory: Path, preset: str) -> Path:
    """``base_path``'s configuration without torch in the matrix, at ``directory``, with the same results and site.

    Results and site stay ``base_path``'s: the environment names differ (no
    torch in them), so the two series share machine folders, never a file.
    """
    from mlxbench.history.commits import timeline_conf

    base_path = Path(base_path)
    base = load_conf(base_path)
    conf = timeline_conf(derived_config(base, base_path.parent, preset))
    for key in ("results_dir", "html_dir"):
        conf[key] = _absolute(base[key], base_path.parent)
    return _write(conf, base_path, directory)


def trial_config(config: Path, preset: str, root: Path = ROOT) -> Path:
    """``config`` for a trial run (``--quick``), written now: the same timeline and environments, its own results.

    One sample per benchmark checks a set-up and measures nothing, so it never
    lands where a history is kept: its results and site live under
    ``.asv/trial/<preset>/<pinned|timeline-mode>/`` and a later run never sees them.
    """
    mode = "timeline-mode" if "timeline-mode" in Path(config).parts else "pinned"
    return write_derived_config(Path(config), _state_dir(root) / "trial" / preset / mode, preset)


def compare_dir(preset: str, base: str, head: str, root: Path = ROOT) -> Path:
    """Where ``mlxbench compare base head`` keeps its two sides' configurations and results."""
    return _state_dir(root) / "compare" / preset / f"{base}..{head}"


def _absolute(value: str, root: Path) -> str:
    """A path of the base configuration, made absolute (URLs and absolute paths stay)."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", value) or os.path.isabs(value):
        return value
    return str((Path(root) / value).resolve())


def derived_config(base: Mapping[str, Any], root: Path, preset: str) -> dict[str, Any]:
    """``base`` (the repository's configuration) for another directory: own results and site, same everything else.

    Paths become absolute because ASV runs in the configuration's directory;
    the environments (``env_dir``) stay shared, so no release is installed twice.
    """
    conf = dict(base)
    for key in ("repo", "env_dir", "benchmark_dir"):
        if key in conf:
            conf[key] = _absolute(conf[key], root)
    quoted_root = shlex.quote(str(Path(root).resolve()))
    for key in ("build_command", "install_command", "uninstall_command"):
        if isinstance(conf.get(key), list):
            conf[key] = [c.replace("{conf_dir}", quoted_root) for c in conf[key]]
    conf["results_dir"] = "results"
    conf["html_dir"] = "html"
    conf[PRESET_KEY] = preset
    return conf


def write_derived_config(base_path: Path, directory: Path, preset: str) -> Path:
    """Write :func:`derived_config` of ``base_path`` to ``directory/asv.conf.json`` (when it changed); its path."""
    base_path = Path(base_path)
    return _write(derived_config(load_conf(base_path), base_path.parent, preset), base_path, directory)


def _write(conf: Mapping[str, Any], base_path: Path, directory: Path) -> Path:
    """``directory/asv.conf.json`` holding ``conf``, generated from ``base_path``; rewritten only when it changed."""
    path = Path(directory) / CONFIG_NAME
    header = f"// Generated by mlxbench from {base_path.resolve()}; edit that file, not this one.\n"
    text = header + json.dumps(conf, indent=4, sort_keys=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def _declared_preset(conf_path: Path) -> str | None:
    """The ``mlxbench_preset`` a configuration names; None if it names none or cannot be read.

    Runs inside ASV's benchmark processes, where ASV itself may not be
    installed: a line-comment-tolerant JSON read is enough for our files.
    """
    try:
        text = Path(conf_path).read_text()
    except OSError:
        return None
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("//")]
    try:
        value = json.loads("\n".join(lines)).get(PRESET_KEY)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def check_preset(preset: str, environ: Mapping[str, str] = os.environ) -> None:
    """Raise ValueError when ASV runs ``preset`` under a configuration that keeps another preset's results.

    ASV tells the suite its configuration's directory (``ASV_CONF_DIR``; the
    ``virtualenv`` and ``installed`` environments pass it; ``asv run -E
    existing`` is checked before it starts, by the plugin). Projects that name
    no preset (the tests' throwaway ones) run any preset.
    """
    conf_dir = environ.get("ASV_CONF_DIR")
    if not conf_dir:
        return
    conf_path = Path(conf_dir) / CONFIG_NAME
    if (problem := preset_mismatch(preset, _declared_preset(conf_path), str(conf_path))) is not None:
        raise ValueError(problem)


def preset_mismatch(preset: str, declared: str | None, where: str) -> str | None:
    """Why running ``preset`` under a configuration (``where``, in words) that keeps ``declared``'s results is refused.

    None where it is not: the presets agree, or the configuration names none.
    """
    if declared is None or declared == preset:
        return None
    own = CONFIG_NAME if preset == DEFAULT_PRESET else f".asv/presets/{preset}/{CONFIG_NAME}"
    return (
        f"MLXBENCH_PRESET={preset!r}, but {where} keeps the {declared!r} preset's results: running {preset!r} "
        f"there would overwrite them. Run `mlxbench bench --preset {preset}`, which uses {own} "
        "(or pass that file to asv run --config)"
    )
