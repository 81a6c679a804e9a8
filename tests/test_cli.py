"""The CLI contract: list --json, verify's table and exit codes, bad input, --version, help, closing lines."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mlxbench
from mlxbench.catalog import CATALOG, PRESETS
from mlxbench.cli import build_parser, main
from mlxbench.harness.backends import BACKENDS


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlxbench", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("preset", PRESETS)
def test_list_json_shows_all_ops_variants_and_backends(preset, capsys):
    assert main(["list", "--preset", preset, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [o["op"] for o in doc["ops"]] == [name for name, op in CATALOG.items() if op.variants(preset)]
    assert len(doc["ops"]) == (23 if preset in ("default", "seed") else len(CATALOG))
    for entry in doc["ops"]:
        ids = [v["id"] for v in entry["variants"]]
        assert ids == [v.id for v in CATALOG[entry["op"]].variants(preset)]
        assert all(isinstance(s, list) for v in entry["variants"] for s in v["shapes"].values())
    assert set(doc["backends"]) == set(BACKENDS)
    for state in doc["backends"].values():
        assert state["available"] == (state["reason"] is None)


def test_verify_tiny_passes_on_the_cpu_backends_through_the_cli():
    proc = run(
        "verify", "--preset", "tiny", "--backend", "mlx_cpu", "--backend", "mlx_cpu_compile", "--backend", "torch_cpu"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # everything passed: one summary line per backend, no row per check
    lines = proc.stdout.splitlines()
    backends = ("mlx_cpu", "mlx_cpu_compile", "torch_cpu")
    assert len(lines) == len(backends), lines
    for backend, line in zip(backends, lines):
        assert re.fullmatch(rf"{backend}: (\d+) of \1 checks ok over \d+ ops \(all ok\)", line), line
    # not a terminal: one progress line per op on stderr instead of a bar that never draws
    assert [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("verify: ")] == list(CATALOG)
    every = run("verify", "--preset", "tiny", "--op", "ReLU", "--backend", "torch_cpu", "--all")
    for col in ("op", "variant", "backend", "error", "tolerance", "ok"):
        assert col in every.stdout
    assert "of tolerance" in every.stdout or "exact" in every.stdout  # errors read against their allowance


def test_verify_names_each_skipped_backend_once_with_its_reason():
    absent = [n for n, b in BACKENDS.items() if b.unavailable()]
    if not absent:
        pytest.skip("every backend is available here")
    proc = run("verify", "--preset", "tiny", "--op", "Softmax", "--backend", "torch_cpu", "--backend", absent[0])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line.strip() for line in proc.stdout.splitlines() if absent[0] in line]
    n = len(CATALOG["Softmax"].variants("tiny"))
    assert lines == [f"skipped {absent[0]} ({n} checks): {BACKENDS[absent[0]].unavailable()}"]


def test_verify_exits_1_on_a_disagreement(monkeypatch, capsys):
    import dataclasses

    import mlxbench.selection as selection

    broken = dataclasses.replace(CATALOG["ReLU"], torch=lambda x: x)  # identity is not ReLU
    monkeypatch.setitem(selection.CATALOG, "ReLU", broken)
    assert main(["verify", "--preset", "tiny", "--op", "ReLU", "--backend", "torch_cpu"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "torch_cpu: 0 of" in out and "FAILED" in out


def test_verify_with_no_runnable_backend_is_not_a_pass(capsys, monkeypatch):
    """Refused as bad input, as bench refuses it (exit 2), before a single op is walked."""
    absent = [n for n, b in BACKENDS.items() if b.unavailable()]
    if not absent:
        pytest.skip("every backend is available here")
    from mlxbench.commands import verify as verify_command

    monkeypatch.setattr(verify_command, "verify", lambda *args, **kwargs: pytest.fail("walked the ops"))
    assert main(["verify", "--op", "ReLU", "--backend", absent[0]]) == 2
    err = capsys.readouterr().err
    assert f"none of the selected backends can run on this machine; {absent[0]}: " in err


@pytest.mark.parametrize(
    "args, needle",
    [
        (["verify", "--op", "Relu2"], "unknown op 'Relu2'; valid ops: Argmax"),
        (["verify", "--backend", "tpu"], "unknown backend 'tpu'; valid backends: mlx_cpu"),
        (["verify", "--preset", "huge"], "unknown preset 'huge'; valid presets: default, seed, tiny"),
        (["list", "--preset", "huge"], "unknown preset 'huge'"),
    ],
)
def test_bad_names_exit_2_naming_the_valid_ones(args, needle):
    proc = run(*args)
    assert proc.returncode == 2
    assert needle in proc.stderr


def test_names_are_case_insensitive(capsys):
    assert main(["verify", "--preset", "tiny", "--op", "relu", "--backend", "TORCH_CPU"]) == 0


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "mlxbench"
    proc = subprocess.run([str(script), "list", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and json.loads(proc.stdout)["ops"]


def test_version_names_the_package_and_what_it_measures_and_runs(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["mlxbench", "mlx", "torch", "asv", "python"]
    assert lines[0] == f"mlxbench {mlxbench.__version__}" and lines[3] == f"asv {importlib.metadata.version('asv')}"


def test_every_subcommand_describes_itself_in_its_help():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, command in sub.choices.items():
        assert command.description, f"`mlxbench {name} --help` has no description"
        assert command.description.split()[0] in command.format_help(), name


@pytest.fixture
def closing_world(monkeypatch, tmp_path):
    """bench, history and publish with ASV faked: each reports success, publish writes a site into tmp_path."""
    from types import SimpleNamespace

    from mlxbench.history import asv_project, asv_run, history_run, machine, main_job
    from mlxbench.report import site

    planned = SimpleNamespace(unavailable={})  # what a job's plan tells its command before it runs
    monkeypatch.setattr(machine, "describe", lambda: {"machine": "Chip (2C+4GB) abc123"})
    monkeypatch.setattr(main_job, "plan", lambda *args, **kwargs: planned)
    monkeypatch.setattr(main_job, "run", lambda *args, **kwargs: main_job.MainJobOutcome(0))
    monkeypatch.setattr(history_run, "plan", lambda *args, **kwargs: planned)
    monkeypatch.setattr(history_run, "describe", lambda plan: "would run")
    monkeypatch.setattr(history_run, "run", lambda *args, **kwargs: history_run.HistoryOutcome(0))
    monkeypatch.setattr(asv_run, "ensure_benchmarks_json", lambda project: None)

    def publish(root, html_dir):
        (html_dir / "chips").mkdir(parents=True)
        for page in ("index.html", "chips/index.html", "chips/chip-2c-4gb-abc123.html"):
            (html_dir / page).write_text("")
        return 0

    monkeypatch.setattr(site, "publish", publish)
    return SimpleNamespace(results_dir=lambda preset: asv_project.repository(preset).results_dir)


def closing(capsys) -> list[str]:
    """The stderr lines from the first `wrote` on."""
    lines = capsys.readouterr().err.splitlines()
    return lines[next((i for i, line in enumerate(lines) if line.startswith("wrote ")), len(lines)) :]


@pytest.mark.parametrize("command", ["bench", "history"])
def test_bench_and_history_end_with_their_results_and_the_next_command(closing_world, capsys, command):
    assert main([command, "--preset", "tiny"]) == 0
    results = closing_world.results_dir("tiny") / "Chip (2C+4GB) abc123"
    assert closing(capsys) == [f"wrote {results.relative_to(Path.cwd())}", "next: mlxbench publish --preset tiny"]
    assert main([command, "--machine", "mine"]) == 0
    assert closing(capsys)[-2:] == ["wrote results/mine", "next: mlxbench publish"]


def test_a_release_already_measured_is_said_and_nothing_claims_to_be_written(
    closing_world, capsys, monkeypatch, tmp_path
):
    from types import SimpleNamespace

    from mlxbench.history import main_job

    plan = SimpleNamespace(
        machine={"machine": "Chip (2C+4GB) abc123"}, tag="v0.32.4", results_dir=tmp_path, tags={}, preset="default"
    )
    monkeypatch.setattr(main_job, "run", lambda *args, **kwargs: main_job.MainJobOutcome(0, plan, measured=False))
    from mlxbench.store import tracked

    monkeypatch.setattr(tracked, "committed", lambda path: True)  # as on the host whose results are committed
    assert main(["bench"]) == 0
    err = capsys.readouterr().err
    assert "nothing new measured: 'Chip (2C+4GB) abc123' already has mlx v0.32.4" in err
    assert "`mlxbench bench --rerun` measures it again" in err and "wrote " not in err
    assert err.splitlines()[-1] == "next: mlxbench publish", "nothing new measured: nothing to submit"


def test_a_dry_run_writes_nothing_and_says_nothing_of_it(closing_world, capsys):
    assert main(["history", "--dry-run"]) == 0
    assert closing(capsys) == []


def test_publish_ends_with_the_pages_and_how_to_serve_them(closing_world, capsys, tmp_path, monkeypatch):
    from asv_project import make

    from mlxbench.history import asv_project
    from mlxbench.history.asv_project import AsvProject

    make(tmp_path, ["0.31.1"], {"numpy": [""]}, preset="default")  # a throwaway project, its site in tmp_path/html
    monkeypatch.setattr(asv_project, "repository", lambda preset="default", **_: AsvProject(tmp_path, preset))
    assert main(["publish"]) == 0
    html = tmp_path / "html"
    assert closing(capsys) == [
        f"wrote {html / 'index.html'}",
        f"wrote {html / 'chips' / 'index.html'}",
        f"wrote {html / 'chips' / 'chip-2c-4gb-abc123.html'}",
        "next: asv preview (ASV's graphs at http://127.0.0.1:8080; the chip pages also open from disk)",
    ]


def test_report_plots_write_plots_and_print_tables_only_when_asked(capsys, tmp_path):
    fixture = str(Path(__file__).parent / "fixtures" / "results")
    args = ["report", "--preset", "tiny", "--results", fixture, "--table", "average", "--backend", "mlx_cpu"]
    assert main([*args, "--plots", str(tmp_path / "a")]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    written = sorted((tmp_path / "a").glob("*.png"))
    assert written and sorted(line.removeprefix("wrote ") for line in err.splitlines() if "wrote" in line) == [
        str(p) for p in written
    ]
    assert main([*args, "--plots", str(tmp_path / "b"), "--print"]) == 0
    assert "Average benchmark: fixture-cpu" in capsys.readouterr().out
    assert main(args) == 0
    assert "Average benchmark: fixture-cpu" in capsys.readouterr().out  # no plots: the tables are the output


def test_ctrl_c_ends_with_one_line_and_releases_the_lock(monkeypatch, capsys):
    from types import SimpleNamespace

    from mlxbench.history import lock, main_job

    def interrupted(*args, **kwargs):
        assert os.environ.get(lock.HELD_ENV)  # interrupted while measuring, under the lock
        raise KeyboardInterrupt

    monkeypatch.setattr(main_job, "plan", lambda *args, **kwargs: SimpleNamespace(unavailable={}))
    monkeypatch.setattr(main_job, "run", interrupted)
    assert main(["bench", "--op", "ReLU"]) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "mlxbench: bench interrupted: result files that were there before are as they were (but for the counts of "
        "a finished commit: they need no load check), results of commits measured for the first time are kept (ASV "
        "saves a commit's results when that commit's benchmarks end); the lock is released"
    ]
    assert lock.HELD_ENV not in os.environ
    with lock.measuring(["next"], wait=False):  # nothing left holding the machine
        pass


def test_a_command_started_ignoring_sigint_takes_it_as_ctrl_c(monkeypatch, capsys):
    """A script's background job starts with SIGINT ignored; the asv child takes it anyway, so the command must too."""
    import signal
    from types import SimpleNamespace

    from mlxbench.history import main_job

    seen = []

    def interrupted(*args, **kwargs):
        seen.append(signal.getsignal(signal.SIGINT))
        raise KeyboardInterrupt

    monkeypatch.setattr(main_job, "plan", lambda *args, **kwargs: SimpleNamespace(unavailable={}))
    monkeypatch.setattr(main_job, "run", interrupted)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        assert main(["bench", "--op", "ReLU"]) == 130
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN, "what the caller had is put back"
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == [signal.default_int_handler]


def test_sigterm_ends_with_one_line_and_the_status_a_shell_gives_it(monkeypatch, capsys):
    """SIGTERM: exit 143 (128 + 15), as `kill` of any command reads in a shell; 130 is Ctrl-C's."""
    import signal
    import time
    from types import SimpleNamespace

    from mlxbench.history import lock, main_job

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        pytest.fail("SIGTERM did not end the command")

    monkeypatch.setattr(main_job, "plan", lambda *args, **kwargs: SimpleNamespace(unavailable={}))
    monkeypatch.setattr(main_job, "run", terminated)
    assert main(["bench", "--op", "ReLU"]) == 143
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("mlxbench: bench terminated (SIGTERM): result files that were there before are as they were")
    assert lock.HELD_ENV not in os.environ


@pytest.mark.parametrize("command", [["bench"], ["history"], ["compare", "v0.32.4", "v0.32.4"], ["calibrate"]])
def test_another_hosts_folder_is_refused_before_waiting_or_measuring(tmp_path, monkeypatch, capsys, command):
    """`--machine` naming a folder another host owns: exit 2 at once, before the lock, a verification or a ceiling."""
    from asv_project import configured

    from mlxbench.harness import ceilings, verified
    from mlxbench.history import asv_project, lock

    project = configured(tmp_path, "default", results_dir="results", mlxbench_preset="default")
    monkeypatch.setattr(asv_project, "repository", lambda preset="default", **_: project)
    (tmp_path / "results" / "theirs").mkdir(parents=True)
    (tmp_path / "results" / "theirs" / "machine.json").write_text(json.dumps({"machine": "theirs", "host": "ffffff"}))
    for module, name in ((lock, "measuring"), (verified, "passing"), (ceilings, "measure")):
        monkeypatch.setattr(module, name, lambda *args, **kwargs: pytest.fail("refused too late"))
    assert main([*command, "--machine", "theirs"]) == 2
    assert "results/theirs holds the results of host ffffff, not this one" in capsys.readouterr().err


def test_report_plots_into_a_file_is_refused_before_loading_anything(tmp_path, monkeypatch, capsys):
    from mlxbench.store import results

    monkeypatch.setattr(results, "load", lambda *args, **kwargs: pytest.fail("loaded the results first"))
    readme = tmp_path / "README.md"
    readme.write_text("mine")
    assert main(["report", "--plots", str(readme)]) == 2
    assert f"--plots {readme} is a file: name a folder" in capsys.readouterr().err
    assert main(["report", "--plots", str(readme / "plots")]) == 2
    assert f"is under {readme}, a file" in capsys.readouterr().err
    assert readme.read_text() == "mine"


def test_a_run_into_committed_results_ends_with_submit(closing_world, capsys, monkeypatch):
    """After `bench --rerun` on the host whose results are committed, publish is not next: its samples are
    unthinned, and check-results (so `make test`) refuses them until `mlxbench submit`."""
    from mlxbench.history import asv_project, machine
    from mlxbench.store import files, tracked

    committed = [f for f in files.machine_dirs(asv_project.repository().results_dir) if tracked.committed(f)]
    if not committed:
        pytest.skip("no committed machine folder in this checkout")
    monkeypatch.setattr(machine, "describe", lambda: {"machine": committed[0].name})
    for command in ("bench", "history"):
        assert main([command, "--rerun"]) == 0
        assert closing(capsys)[-1].startswith("next: mlxbench submit  (this machine's results are committed")


def test_presets_are_case_insensitive_like_ops_and_backends(capsys):
    assert main(["verify", "--preset", "Tiny", "--op", "relu", "--backend", "TORCH_CPU"]) == 0
    capsys.readouterr()
    assert main(["list", "--preset", "TINY", "--json"]) == 0
    ops = [o["op"] for o in json.loads(capsys.readouterr().out)["ops"]]
    assert ops == [name for name, op in CATALOG.items() if op.variants("tiny")]
