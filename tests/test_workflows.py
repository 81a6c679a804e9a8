"""The GitHub workflows: valid YAML, and the benchmark history only on a self-hosted chip, never in a VM."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
HOSTED = ("ubuntu-", "macos-", "windows-")


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_workflow_is_valid_yaml(name):
    assert load(name)["jobs"]  # an unquoted "name: a (b: c)" is a YAML error GitHub refuses the whole file for


def test_the_history_runs_on_a_self_hosted_runner_chosen_by_label_and_refuses_a_vm():
    doc = load("benchmark.yml")
    history = doc["jobs"]["history"]
    runs_on = history["runs-on"]
    assert "fromJSON(inputs.runner" in runs_on and '"self-hosted"' in runs_on
    assert '"self-hosted"' in doc[True]["workflow_dispatch"]["inputs"]["runner"]["default"]  # YAML reads `on` as True
    assert not any(label in runs_on for label in HOSTED)
    assert history["if"] == "github.event_name != 'pull_request'"
    refusal = next(s["run"] for s in history["steps"] if "mlxbench machine |" in s.get("run", ""))
    assert 'info.get("virtual")' in refusal and "sys.exit(1)" in refusal
    assert any("asv gh-pages" in s.get("run", "") for s in history["steps"])


def test_github_hosted_runners_only_check_and_smoke_test():
    smoke = load("benchmark.yml")["jobs"]["smoke"]
    assert all(os.startswith(HOSTED) for os in smoke["strategy"]["matrix"]["os"])
    runs = "\n".join(s.get("run", "") for s in smoke["steps"])
    assert "asv check" in runs and "mlxbench bench --preset tiny --quick" in runs
    for forbidden in ("git push", "git commit", "gh-pages", "mlxbench history", "--preset default"):
        assert forbidden not in runs
    assert smoke["permissions"] == {"contents": "read"}
