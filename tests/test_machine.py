"""Machine naming and registration, and the main job's benchmark selection."""

from __future__ import annotations

import json
import re

import asv_project
import pytest

from mlxbench.catalog import CATALOG
from mlxbench.errors import UsageError
from mlxbench.harness import versions
from mlxbench.harness.backends import BACKENDS
from mlxbench.harness.benchmark_names import selection_regex
from mlxbench.history import asv_environment, asv_run, machine, renames


def test_description_has_asv_fields_and_chip_details():
    info = machine.describe()
    for key in ("machine", "os", "arch", "cpu", "num_cpu", "ram", "chip", "cores", "gpu", "memory_gb"):
        assert key in info
    assert info["machine"] and "/" not in info["machine"]
    assert info["chip"] in info["machine"] and f"{info['memory_gb']}GB" in info["machine"]
    assert info["config"] in info["machine"] and info["host"] in info["machine"]


def test_register_writes_the_entry_with_extra_fields(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    info = machine.register("chip-a")
    machine.register("chip-b")
    saved = json.loads((tmp_path / ".asv-machine.json").read_text())
    assert {"chip-a", "chip-b"} <= set(saved)  # two chips never overwrite each other
    assert saved["chip-a"]["chip"] == info["chip"] and saved["chip-a"]["memory_gb"] == info["memory_gb"]


def test_bench_regex_selects_exactly_the_requested_methods():
    pattern = re.compile(selection_regex([CATALOG["ReLU"]], [BACKENDS["mlx_cpu"], BACKENDS["torch_cpu"]]))
    # ASV matches each parameter combination as "name(param, ...)"
    names = [
        f"ops.{op}.{kind}_{b}('4x3x8')"
        for op in ("ReLU", "PReLU", "SeLU")
        for kind in ("time", "peakmem")
        for b in BACKENDS
    ]
    assert [n.split("(")[0] for n in names if pattern.search(n)] == [
        "ops.ReLU.time_mlx_cpu",
        "ops.ReLU.time_torch_cpu",
        "ops.ReLU.peakmem_mlx_cpu",
        "ops.ReLU.peakmem_torch_cpu",
    ]


def test_description_records_threads_and_mlx_float32_setting(monkeypatch):
    info = machine.describe()
    assert info["torch_threads"] == 1  # the series' count, whatever torch's default here
    monkeypatch.setenv(versions.TORCH_THREADS_ENV, "2")
    assert machine.describe()["torch_threads"] == 2
    assert info["mlx_cpu_threads"].startswith("1")
    assert info["mlx_enable_tf32"] == "0"


def test_recorded_machine_entry_carries_the_thread_counts(tmp_path, monkeypatch):
    """ASV copies the machine entry into every result's params: the threads travel with each number."""
    monkeypatch.setenv("HOME", str(tmp_path))
    machine.register("chip-a")
    saved = json.loads((tmp_path / ".asv-machine.json").read_text())["chip-a"]
    assert {"torch_threads", "mlx_cpu_threads", "mlx_enable_tf32"} <= set(saved)


def test_two_hosts_of_one_model_are_two_machines_of_one_configuration(monkeypatch):
    monkeypatch.setenv(machine.HOST_ID_ENV, "host-a")
    a = machine.describe()
    monkeypatch.setenv(machine.HOST_ID_ENV, "host-b")
    b = machine.describe()
    assert a["config"] == b["config"]  # reports group them as one chip
    assert a["machine"] != b["machine"] and a["host"] != b["host"]
    for info in (a, b):
        assert info["machine"] == f"{info['config']} {info['host']}"
        assert re.fullmatch(r"[0-9a-f]{6}", info["host"]) and "host-" not in json.dumps(info)  # never the raw id
    monkeypatch.setenv(machine.HOST_ID_ENV, "host-a")
    assert machine.describe()["machine"] == a["machine"]  # stable: the same host is always the same machine


def test_the_real_host_id_is_stable_and_the_os_is_coarse(monkeypatch):
    monkeypatch.delenv(machine.HOST_ID_ENV, raising=False)
    assert machine.raw_host_id() and machine.raw_host_id() == machine.raw_host_id()
    info = machine.describe()
    assert re.fullmatch(r"\w+ \d+", info["os"])  # "Linux 6": a kernel patch does not rename the series
    monkeypatch.setattr(machine.platform, "release", lambda: "6.18.99-another-patch")
    assert machine.describe()["machine"] == info["machine"] and machine.describe()["os"] == info["os"]


def test_a_random_mac_is_not_an_identity(monkeypatch):
    """uuid.getnode() returns a random number with the multicast bit set when it finds no interface."""
    monkeypatch.delenv(machine.HOST_ID_ENV, raising=False)
    monkeypatch.setattr(machine.platform, "system", lambda: "Linux")
    monkeypatch.setattr(machine, "_read", lambda path: "0123456789abcdef\n" if "machine-id" in path else "")
    monkeypatch.setattr(machine.uuid, "getnode", lambda: (1 << 40) | 0x1234)
    assert machine.raw_host_id() == "0123456789abcdef"
    monkeypatch.setattr(machine.uuid, "getnode", lambda: 0x02FC00000001)
    assert machine.raw_host_id() == "0123456789abcdef|02fc00000001"


def test_the_name_comes_from_the_hardware_the_same_under_any_home(tmp_path, monkeypatch):
    """Another user, a fresh home, an ephemeral runner: one host, one name; nothing is written into the home."""
    monkeypatch.delenv(machine.HOST_ID_ENV, raising=False)
    names = []
    for home in ("user-a", "user-b"):
        monkeypatch.setenv("HOME", str(tmp_path / home))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / home / ".config"))
        names.append(machine.describe()["machine"])
    assert names[0] == names[1]
    assert not any(tmp_path.rglob("host-id"))


def test_this_hosts_folder_under_its_former_per_home_id_is_renamed_and_no_other(tmp_path, monkeypatch):
    monkeypatch.delenv(machine.HOST_ID_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert machine.legacy_hosts() == set()  # no old id file here: no old name
    (tmp_path / "config" / "mlxbench").mkdir(parents=True)
    (tmp_path / "config" / "mlxbench" / "host-id").write_text("an-old-random-id\n")
    (former,) = machine.legacy_hosts()
    info = machine.describe()
    results_dir = tmp_path / "results"
    old = results_dir / f"{info['config']} {former}"
    other = results_dir / f"{info['config']} abcdef"
    for folder, host in ((old, former), (other, "abcdef")):
        folder.mkdir(parents=True)
        (folder / "machine.json").write_text(json.dumps({**info, "machine": folder.name, "host": host}))
        doc = {"commit_hash": "0" * 40, "params": {"machine": folder.name, "host": host}, "results": {}}
        (folder / f"00000000-{asv_environment.SERIES_TOOL}-py3.11.json").write_text(json.dumps(doc))
    throwaway = asv_project.configured(tmp_path, results_dir="results")  # its results: the folder above
    with pytest.raises(UsageError, match="migrate --apply"):  # a run says where this host's results are
        asv_run.machine_for(throwaway, None)
    assert renames.rename(results_dir, info, {former}, dry_run=True).moved == [(old, results_dir / info["machine"])]
    assert old.exists()  # a dry run moves nothing
    done = renames.rename(results_dir, info, {former})
    new = results_dir / info["machine"]
    assert done.moved == [(old, new)] and not old.exists() and other.exists()
    assert json.loads((new / "machine.json").read_text())["host"] == info["host"]
    (result,) = new.glob("0*.json")
    assert json.loads(result.read_text())["params"]["machine"] == info["machine"]
    assert asv_run.machine_for(throwaway, None)["machine"] == info["machine"]


def test_a_folder_of_another_host_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(machine.HOST_ID_ENV, "host-a")
    mine = machine.describe()
    machine.check_owner(tmp_path, mine)  # no folder yet: fine
    (tmp_path / mine["machine"]).mkdir()
    (tmp_path / mine["machine"] / "machine.json").write_text(json.dumps(mine))
    machine.check_owner(tmp_path, mine)  # this host's own folder: fine
    monkeypatch.setenv(machine.HOST_ID_ENV, "host-b")
    other = {**machine.describe(), "machine": mine["machine"]}  # --machine chosen by hand to be host a's name
    with pytest.raises(UsageError, match="holds the results of host"):
        machine.check_owner(tmp_path, other)
    legacy = {"machine": "AMD EPYC (2C+24GB)", "os": "Linux 6.18.44-fc-v509"}  # committed before host ids
    (tmp_path / legacy["machine"]).mkdir()
    (tmp_path / legacy["machine"] / "machine.json").write_text(json.dumps(legacy))
    with pytest.raises(UsageError, match="recorded before host ids"):
        machine.check_owner(tmp_path, {**other, "machine": legacy["machine"]})


def fake_probes(monkeypatch, system: str, answers: dict[tuple[str, ...], str], cpuinfo: str = "") -> None:
    """The VM probes answer as on ``system``: commands from ``answers`` ("" when absent), /proc/cpuinfo as given."""
    monkeypatch.setattr(machine.platform, "system", lambda: system)
    monkeypatch.setattr(machine, "_run", lambda *cmd: answers.get(cmd, ""))
    monkeypatch.setattr(machine, "_read", lambda path: cpuinfo if path == "/proc/cpuinfo" else "")


@pytest.mark.parametrize(
    "system, answers, cpuinfo, expected",
    [
        ("Darwin", {("sysctl", "-n", "kern.hv_vmm_present"): "1"}, "", "unknown"),  # GitHub's macos-14 runners
        ("Darwin", {("sysctl", "-n", "kern.hv_vmm_present"): "0"}, "", ""),  # a Mac on bare metal
        ("Linux", {("systemd-detect-virt", "--vm"): "kvm"}, "", "kvm"),
        ("Linux", {("systemd-detect-virt", "--vm"): "none"}, "flags\t\t: fpu vme hypervisor lahf_lm\n", "unknown"),
        ("Linux", {}, "flags\t\t: fpu vme hypervisor\n", "unknown"),  # no systemd: the CPU flag
        ("Linux", {("systemd-detect-virt", "--vm"): "none"}, "flags\t\t: fpu vme sse\n", ""),
        ("Linux", {}, "", ""),
    ],
)
def test_a_virtual_machine_is_detected(monkeypatch, system, answers, cpuinfo, expected):
    fake_probes(monkeypatch, system, answers, cpuinfo)
    assert machine.virtual_machine() == expected


def test_a_virtual_machine_keeps_its_name_and_gets_a_field(monkeypatch):
    """The series a VM measured before detection existed keeps its name; bare metal gets no new ASV field."""
    monkeypatch.setenv(machine.HOST_ID_ENV, "host-a")
    monkeypatch.setattr(machine, "virtual_machine", lambda: "")
    bare = machine.describe()
    monkeypatch.setattr(machine, "virtual_machine", lambda: "kvm")
    vm = machine.describe()
    assert vm["machine"] == bare["machine"] and vm["virtual"] == "kvm"
    assert "virtual" not in bare  # ASV files graphs by every machine field: none added on bare metal


def test_another_hosts_name_is_refused_in_every_preset(tmp_path):
    """--machine naming a committed (default-preset) machine must not start that name's folder for tiny either."""
    from mlxbench.history import asv_run

    # a throwaway project keeping the default preset's results in tmp_path/results; tiny's are its own
    tiny = asv_project.configured(tmp_path, "tiny", results_dir="results", mlxbench_preset="default")
    default = tmp_path / "results"
    legacy = {"machine": "AMD EPYC (2C+24GB)"}  # recorded before host ids: another host as far as anyone knows
    (default / legacy["machine"]).mkdir(parents=True)
    (default / legacy["machine"] / "machine.json").write_text(json.dumps(legacy))
    assert tiny.results_dir != default and tiny.default_results_dir == default
    with pytest.raises(UsageError, match="recorded before host ids"):
        asv_run.machine_for(tiny, legacy["machine"])
    assert not (tiny.results_dir / legacy["machine"]).exists()
    assert asv_run.machine_for(tiny, None)["machine"] != legacy["machine"]  # this host's own name: fine


@pytest.mark.parametrize(
    "name",
    ["..", ".", "a/b", "../x", "a\\b", "tab\there", " padded", "", "benchmarks.json", "x.json", "~", "$HOME", ".x"],
)
def test_a_machine_name_that_is_a_path_is_refused_before_anything_is_written(name, tmp_path, monkeypatch, capsys):
    from mlxbench.cli import main

    monkeypatch.setenv("HOME", str(tmp_path))  # ~/.asv-machine.json of this test only
    with pytest.raises(UsageError, match="cannot be a machine name"):
        machine.check_name(name)
    assert main(["machine", "--name", name]) == 2
    assert "cannot be a machine name" in capsys.readouterr().err
    assert not (tmp_path / ".asv-machine.json").exists()
    assert machine.check_name("AMD EPYC (2C+24GB) 3fd159") == "AMD EPYC (2C+24GB) 3fd159"
