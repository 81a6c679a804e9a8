"""The GitHub workflows, read as a security reviewer would: no pull request reaches a self-hosted runner, no token
is left where code from a pull request could read it, no input is spliced into a script, no history is lost."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
HOSTED = ("ubuntu-", "macos-", "windows-")
MAINTAINER_ONLY = {"workflow_dispatch", "schedule"}
"""The events only people with write access start: everything else can carry a fork's code or text."""
NAMES = sorted(p.name for p in WORKFLOWS.glob("*.yml"))


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def events(doc: dict) -> set[str]:
    on = doc[True]  # YAML reads the key `on` as True
    return {on} if isinstance(on, str) else set(on)


def hosted_only(job: dict) -> bool:
    """Whether the job can only land on GitHub-hosted runners (a label list, or a matrix of them)."""
    runs_on = job["runs-on"]
    if isinstance(runs_on, str) and runs_on.strip() == "${{ matrix.os }}":
        return all(str(os).startswith(HOSTED) for os in job["strategy"]["matrix"]["os"])
    labels = [runs_on] if isinstance(runs_on, str) else list(runs_on)
    return all(label.startswith(HOSTED) for label in labels)


def jobs() -> list[tuple[str, str, dict, dict]]:
    return [
        (name, job_name, doc, job) for name in NAMES for doc in [load(name)] for job_name, job in doc["jobs"].items()
    ]


@pytest.mark.parametrize("name", NAMES)
def test_workflow_is_valid_yaml(name):
    assert load(name)["jobs"]  # an unquoted "name: a (b: c)" is a YAML error GitHub refuses the whole file for


@pytest.mark.parametrize(("name", "job_name", "doc", "job"), jobs(), ids=lambda v: v if isinstance(v, str) else "")
def test_only_maintainers_events_can_reach_a_runner_that_is_not_githubs(name, job_name, doc, job):
    """A job that could run on a self-hosted runner: started only by dispatch or schedule, from the default branch,
    in an environment whose reviewers approve each run."""
    if hosted_only(job):
        return
    assert events(doc) <= MAINTAINER_ONLY, f"{name}:{job_name} may run a pull request's code on a self-hosted runner"
    assert "github.event.repository.default_branch" in job["if"] and "github.ref" in job["if"]
    assert job["environment"]


@pytest.mark.parametrize("name", NAMES)
def test_a_checkout_keeps_no_token_and_only_push_steps_get_one(name):
    for job in load(name)["jobs"].values():
        for step in job["steps"]:
            if str(step.get("uses", "")).startswith("actions/checkout"):
                assert step.get("with", {}).get("persist-credentials") is False, step
            text = yaml.safe_dump(step)
            if "secrets." in text:
                assert "secrets." not in step.get("run", "")  # through env:, never spliced into the script
                assert "git push" in step["run"] or "gh-pages" in step["run"], step.get("name")


@pytest.mark.parametrize("name", NAMES)
def test_no_expression_is_spliced_into_a_script(name):
    """``${{ inputs.x }}`` inside ``run:`` becomes shell code (an input of ``"; curl ... | sh``): env: only."""
    for job in load(name)["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step.get("name")


def test_pull_requests_are_tested_and_their_results_checked_on_githubs_runners():
    doc = load("test.yml")
    assert "pull_request" in events(doc) and "pull_request_target" not in events(doc)
    assert all(hosted_only(job) for job in doc["jobs"].values())
    assert doc["permissions"] == {"contents": "read"}
    runs = "\n".join(s.get("run", "") for s in doc["jobs"]["test"]["steps"])
    assert "make test" in runs
    target = re.search(r"^test:.*?(?=^\S|\Z)", (ROOT / "Makefile").read_text(), re.M | re.S).group(0)
    assert "mlxbench check-results" in target  # every pull request touching results/ is checked
    smoke = "\n".join(s.get("run", "") for s in doc["jobs"]["smoke"]["steps"])
    assert "asv check" in smoke and "mlxbench bench --preset tiny --quick" in smoke
    assert "cd .asv/trial/tiny/pinned" in smoke and 'asv" publish' in smoke  # the trial's own results, published
    for forbidden in ("git push", "git commit", "gh-pages", "mlxbench history"):
        assert forbidden not in smoke


def test_the_history_runs_on_a_chip_chosen_by_label_refuses_a_vm_and_loses_nothing():
    doc = load("benchmark.yml")
    assert events(doc) == MAINTAINER_ONLY and doc["permissions"] == {}
    history, commit = doc["jobs"]["history"], doc["jobs"]["commit"]
    assert "fromJSON(inputs.runner" in history["runs-on"] and history["environment"]
    assert history["permissions"] == {"contents": "read"}  # the job that runs framework releases cannot push
    steps = history["steps"]
    refusal = next(s["run"] for s in steps if "mlxbench machine |" in s.get("run", ""))
    assert 'info.get("virtual")' in refusal and "sys.exit(1)" in refusal
    assert any("mlxbench migrate --apply" in s.get("run", "") for s in steps)  # a renamed host keeps its series
    measuring = next(i for i, s in enumerate(steps) if "mlxbench history" in s.get("run", ""))
    assert steps[measuring]["continue-on-error"] is True  # a failed benchmark is reported, not fatal to the commit
    after = steps[measuring + 1 :]
    keep = [s for s in after if "mlxbench submit" in s.get("run", "") or "upload-artifact" in s.get("uses", "")]
    assert len(keep) == 2 and all(s["if"].startswith("always()") for s in keep)
    # the pushing job: GitHub's runner, runs no project code, commits whatever the measuring job left
    assert commit["needs"] == "history" and commit["if"].startswith("always()") and hosted_only(commit)
    assert commit["permissions"] == {"contents": "write"}
    runs = "\n".join(s.get("run", "") for s in commit["steps"])
    assert not re.search(r"\.venv/bin|(^|\s)mlxbench |\bmake\b|pip install|python|asv ", runs)
    push = next(s for s in commit["steps"] if "git push origin" in s.get("run", ""))
    assert "pull --rebase" in push["run"] and "core.hooksPath" in push["run"]
    assert any("HISTORY != 'success'" in s.get("if", "") and "exit 1" in s["run"] for s in commit["steps"])
