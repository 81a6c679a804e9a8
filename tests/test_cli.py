"""The CLI contract: list --json, verify's table and exit codes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlxbench.catalog import CATALOG, PRESETS
from mlxbench.cli import main
from mlxbench.harness.backends import BACKENDS


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlxbench", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("preset", PRESETS)
def test_list_json_shows_all_ops_variants_and_backends(preset, capsys):
    assert main(["list", "--preset", preset, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [o["op"] for o in doc["ops"]] == list(CATALOG)
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
    assert "0 failed" in proc.stdout
    for col in ("op", "variant", "backend", "error", "tolerance", "ok"):
        assert col in proc.stdout
    assert "of tolerance" in proc.stdout and "exact" in proc.stdout  # errors read against their allowance
    # not a terminal: one progress line per op on stderr instead of a bar that never draws
    assert [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("verify: ")] == list(CATALOG)


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
    assert "FAIL" in capsys.readouterr().out


def test_verify_with_no_runnable_backend_is_not_a_pass(capsys):
    absent = [n for n, b in BACKENDS.items() if b.unavailable()]
    if not absent:
        pytest.skip("every backend is available here")
    assert main(["verify", "--preset", "tiny", "--op", "ReLU", "--backend", absent[0]]) == 1
    assert "nothing was verified" in capsys.readouterr().err


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
