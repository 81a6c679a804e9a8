"""The ASV functions this repository replaces, replaced by one explicit call: :func:`install`.

:func:`install` (called by the plugin's ``setup``, :mod:`mlxbench.history.asv_environment`)
wraps ``asv run``'s ``run_benchmarks``, ``asv.runner.get_spawner``, ``asv.runner.run_benchmark``,
``asv.commands.run.Run.run``, ``asv.results.Results.add_result`` and
``asv.commands.publish.Publish.run_from_conf_args`` once per process, after
checking that the installed ASV is the version mlxbench requires and that each
function takes the parameters its wrapper names; otherwise it raises
:class:`UnsupportedAsv` and patches nothing. What the wrappers do is
:mod:`mlxbench.history.asv_launch`'s (publishing: :mod:`mlxbench.history.asv_publish`'s).
"""

from __future__ import annotations

import importlib.metadata
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asv
from asv import results, runner, util
from asv.commands import publish as publish_command
from asv.commands import run as run_command
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from mlxbench.history import asv_launch, asv_publish


class UnsupportedAsv(util.UserError):
    """The installed ASV is not the one the patches were written for (ASV prints the message and exits 1)."""


_originals: dict[str, Callable[..., Any]] = {}
"""ASV's own functions, by name, once :func:`install` replaced them."""


_counting: list[asv_launch.CountItem] = []
"""The variants the running ``run_benchmarks`` counts: its spawner's workers count them all at once."""


def _run_benchmarks(benchmarks: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
    _counting[:] = asv_launch.count_items(benchmarks, benchmarks.benchmark_selection)
    try:
        return _originals["run_benchmarks"](benchmarks, env, *args, **kwargs)
    finally:
        _counting.clear()


def _get_spawner(env: Any, benchmark_dir: str, launch_method: str | None) -> Any:
    return asv_launch.Dispatching(
        _originals["get_spawner"](env, benchmark_dir, asv_launch.default_launch_method(launch_method)), _counting
    )


def _run_benchmark(benchmark: dict[str, Any], spawner: Any, profile: bool, *args: Any, **kwargs: Any) -> Any:
    if reason := asv_launch.counting_unavailable(benchmark["name"]) or asv_launch.absent_reason(
        benchmark["name"], spawner
    ):
        return asv_launch.not_available(benchmark, reason)
    return _originals["run_benchmark"](benchmark, spawner, profile, *args, **kwargs)


def _run(
    cls: Any,
    conf: Any,
    range_spec: Any = None,
    *args: Any,
    bench: Any = None,
    quick: bool = False,
    env_spec: Any = None,
    dry_run: bool = False,
    **kwargs: Any,
) -> Any:
    asv_launch.refuse_another_preset(conf)
    saves_nothing = bool(dry_run) or asv_launch.saves_nothing(env_spec, kwargs.get("set_commit_hash"))
    asv_launch.refuse_a_quick_history(conf, bool(quick), saves_nothing)
    if not asv_launch.existing_only(env_spec):
        range_spec = asv_launch.mode_commits(conf, range_spec)
        asv_launch.refuse_an_unknown_range(conf, range_spec)
    return _originals["run"](
        cls,
        conf,
        range_spec,
        *args,
        bench=asv_launch.default_selection(bench),
        quick=quick,
        env_spec=env_spec,
        dry_run=dry_run,
        **kwargs,
    )


def _add_result(self: Any, benchmark: Any, result: Any, *args: Any, record_samples: bool = False, **kwargs: Any) -> Any:
    # every result keeps its samples, as --record-samples (mlxbench.history.asv_plain_run thins them)
    return _originals["add_result"](self, benchmark, result, *args, record_samples=True, **kwargs)


def _publish_from_conf_args(cls: Any, conf: Any, args: Any, **kwargs: Any) -> Any:
    with asv_publish.screened(conf):
        return _originals["run_from_conf_args"](cls, conf, args, **kwargs)


@dataclass(frozen=True)
class Patch:
    """ASV's function ``owner.name`` and the wrapper that replaces it (a classmethod stays one)."""

    owner: Any
    name: str
    wrapper: Callable[..., Any]

    @property
    def where(self) -> str:
        """``asv.runner.run_benchmark``, ``asv.commands.run.Run.run``."""
        owner = (
            f"{self.owner.__module__}.{self.owner.__qualname__}"
            if isinstance(self.owner, type)
            else self.owner.__name__
        )
        return f"{owner}.{self.name}"

    def original(self) -> Callable[..., Any]:
        found = inspect.getattr_static(self.owner, self.name)
        return found.__func__ if isinstance(found, classmethod) else found

    def apply(self) -> None:
        found = inspect.getattr_static(self.owner, self.name)
        setattr(self.owner, self.name, classmethod(self.wrapper) if isinstance(found, classmethod) else self.wrapper)


PATCHES = (
    Patch(run_command, "run_benchmarks", _run_benchmarks),
    Patch(runner, "get_spawner", _get_spawner),
    Patch(runner, "run_benchmark", _run_benchmark),
    Patch(run_command.Run, "run", _run),
    Patch(results.Results, "add_result", _add_result),
    Patch(publish_command.Publish, "run_from_conf_args", _publish_from_conf_args),
)


def required_asv() -> SpecifierSet:
    """The ASV versions mlxbench requires: its pyproject.toml's pin, as installed."""
    try:
        requirements = [Requirement(r) for r in importlib.metadata.requires("mlxbench") or ()]
    except importlib.metadata.PackageNotFoundError:
        raise UnsupportedAsv("mlxbench is not installed (pip install -e .): which asv it needs is unknown") from None
    found = [r.specifier for r in requirements if canonicalize_name(r.name) == "asv" and not r.marker]
    if not found:
        raise UnsupportedAsv("mlxbench's requirements name no asv version")
    return found[0]


def signature_problem(where: str, original: Callable[..., Any], wrapper: Callable[..., Any]) -> str | None:
    """Why ``wrapper`` cannot stand for ``original``: a parameter it names is missing, moved or defaults otherwise."""
    theirs = inspect.signature(original)
    named = [
        p for p in inspect.signature(wrapper).parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if missing := [p.name for p in named if p.name not in theirs.parameters]:
        return f"{where}{theirs} has no parameter {', '.join(missing)}"
    try:
        theirs.bind(**{p.name: None for p in named})
    except TypeError as exc:
        return f"{where}{theirs} does not take the wrapper's parameters ({exc})"
    positional = [p.name for p in named if p.kind is p.POSITIONAL_OR_KEYWORD]
    if list(theirs.parameters)[: len(positional)] != positional:
        return f"{where}{theirs} does not start with ({', '.join(positional)})"
    for p in named:
        if p.default is not p.empty and theirs.parameters[p.name].default != p.default:
            return f"{where}'s {p.name} defaults to {theirs.parameters[p.name].default!r}, not {p.default!r}"
    return None


def problems(version: str, required: SpecifierSet, originals: Mapping[str, Callable[..., Any]]) -> list[str]:
    """What keeps the patches out of ASV ``version`` whose functions are ``originals`` (by name); [] if nothing."""
    found = [] if required.contains(version, prereleases=True) else [f"mlxbench requires asv{required}"]
    found += [p for patch in PATCHES if (p := signature_problem(patch.where, originals[patch.name], patch.wrapper))]
    return found


def install() -> None:
    """Replace ASV's functions with the wrappers, once per process; UnsupportedAsv (nothing replaced) on a mismatch."""
    if _originals:
        return
    originals = {patch.name: patch.original() for patch in PATCHES}
    if found := problems(asv.__version__, required_asv(), originals):
        raise UnsupportedAsv(f"mlxbench cannot patch asv {asv.__version__}: " + "; ".join(found))
    _originals.update(originals)
    for patch in PATCHES:
        patch.apply()
