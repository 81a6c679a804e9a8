"""What an ASV command needs on a fresh clone, made by the plugin before ASV reads it: the command line read
again as ASV reads it, the timeline, this machine's registration, a site for ``asv preview``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from asv import util

from mlxbench.history import asv_command, asv_prerequisites, machine
from mlxbench.stack import releases, timeline
from mlxbench.store import machines


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty HOME: no ~/.asv-machine.json."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def command(name: str, directory: Path, **args: object) -> asv_command.AsvCommand:
    conf = SimpleNamespace(repo="repo.git", results_dir="results", html_dir="html")
    return asv_command.AsvCommand(name, argparse.Namespace(**args), conf, None)


def test_asvs_command_line_is_read_again_with_its_configuration(tmp_path, monkeypatch):
    (tmp_path / "asv.conf.json").write_text(json.dumps({"version": 1, "repo": ".asv/timeline.git"}))
    monkeypatch.chdir(tmp_path)  # ASV moved into the configuration's directory before loading plugins
    found = asv_command.parse(["/venv/bin/asv", "-v", "compare", "v0.31.1", "v0.32.4", "--machine", "m"])
    assert found is not None and found.name == "compare" and found.args.machine == "m"
    assert found.path("repo") == tmp_path / ".asv" / "timeline.git" and found.config is None
    other = asv_command.parse(["/venv/bin/asv", "show", "--config", "elsewhere/asv.conf.json"])
    assert other is not None and other.config == tmp_path / "asv.conf.json"
    assert asv_command.parse(["/venv/bin/mlxbench", "bench"]) is None  # not ASV's process: the plugin imported
    assert asv_command.parse(["/venv/bin/asv"]) is None


def test_the_repositorys_timeline_is_made_and_another_projects_repository_is_left_alone(tmp_path):
    tags = asv_prerequisites.sync_timeline(tmp_path / ".asv" / "timeline.git")
    assert tags and "v0.32.4" in tags and (tmp_path / ".asv" / "timeline.git" / "HEAD").exists()
    older = tmp_path / "older" / ".asv" / "timeline.git"
    timeline.sync(older, releases.load()[:10])  # made before the catalog had its newer releases
    assert asv_prerequisites.sync_timeline(older) == tags
    assert asv_prerequisites.sync_timeline(tmp_path / "timeline.git") is None
    assert not (tmp_path / "timeline.git").exists()


def test_this_machine_is_registered_where_asv_would_find_no_entry(home):
    ours = machine.describe()["machine"]
    assert asv_prerequisites.register_machine("another host's name") is None  # ASV's own error names it
    assert not machines.registry_path().exists()
    assert asv_prerequisites.register_machine(None) == ours
    assert asv_prerequisites.registered() == {ours}
    assert asv_prerequisites.register_machine(None) is None  # there: ASV takes the only entry
    assert asv_prerequisites.register_machine(ours) is None


def test_the_named_machine_is_registered_when_it_is_this_hosts(home):
    machines.register({"machine": "a colleague's laptop"})
    ours = machine.describe()["machine"]
    assert asv_prerequisites.register_machine(ours) == ours
    assert asv_prerequisites.registered() == {ours, "a colleague's laptop"}  # the other entry kept


def test_preview_publishes_the_site_first_where_there_is_none(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    published = []
    monkeypatch.setattr(asv_prerequisites, "sync_timeline", lambda repo: None)
    monkeypatch.setattr(asv_prerequisites, "publish_site", lambda c: published.append(c.name) or 0)
    asv_prerequisites.prepare(command("preview", tmp_path, html_dir=None))
    assert published == ["preview"] and "publishing it first" in capsys.readouterr().err
    (tmp_path / "html").mkdir()
    (tmp_path / "html" / "index.html").write_text("<html>")
    asv_prerequisites.prepare(command("preview", tmp_path, html_dir=None))
    assert published == ["preview"]  # a site there is served as it is
    monkeypatch.setattr(asv_prerequisites, "publish_site", lambda c: 1)
    (tmp_path / "html" / "index.html").unlink()
    with pytest.raises(util.UserError, match="asv publish failed"):
        asv_prerequisites.prepare(command("preview", tmp_path, html_dir=None))


def test_only_the_commands_that_read_benchmarks_json_discover_it_and_only_once(tmp_path, monkeypatch, home):
    monkeypatch.chdir(tmp_path)
    found = []
    monkeypatch.setattr(asv_prerequisites, "sync_timeline", lambda repo: None)
    monkeypatch.setattr(asv_prerequisites, "discover", lambda conf: found.append(conf))
    asv_prerequisites.prepare(command("check", tmp_path))
    assert found == []
    asv_prerequisites.prepare(command("compare", tmp_path))
    assert len(found) == 1
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "benchmarks.json").write_text("{}")
    asv_prerequisites.prepare(command("show", tmp_path))
    assert len(found) == 1
