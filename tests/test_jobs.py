"""The three jobs have one shape (plan from a project and a selection, run a plan, an outcome back) and print
nothing: only the commands do."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

from mlxbench.history import asv_project, asv_run, commits, compare, history_run, main_job

JOBS = {main_job: main_job.MainJobOutcome, history_run: history_run.HistoryOutcome, compare: compare.CompareOutcome}


@pytest.mark.parametrize("job", JOBS, ids=lambda job: job.__name__.rsplit(".", 1)[1])
def test_every_job_plans_from_a_project_and_a_selection_and_runs_its_plan_into_an_outcome(job):
    assert list(inspect.signature(job.plan).parameters)[:2] == ["project", "selection"]
    assert list(inspect.signature(job.run).parameters)[:3] == ["p", "say", "call"]
    assert [f.name for f in dataclasses.fields(JOBS[job])][:2] == ["code", "plan"]


@pytest.mark.parametrize("module", [*JOBS, asv_run, asv_project, commits], ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_the_jobs_and_what_they_share_print_nothing(module):
    tree = ast.parse(Path(module.__file__).read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert [n.lineno for n in calls if n.func.id == "print"] == []
