"""Pure parts of the runner: the rendered inventory, poll answers, and failure classification."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.runner.failures import classify_unreachable
from app.runner.jobs import result_of
from app.runner.polls import PollFormatError, parse_poll
from app.runner.run_dir import render_inventory
from app.runner.spec import JobSpec, Target

HOSTILE = [
    "x\nansible_connection: local",
    "{{ lookup('pipe', 'id') }}",
    "{% for x in y %}",
    '" ansible_host=evil',
    "'; rm -rf / #",
    "!unsafe not really",
    "a: b\n  c: d",
    "\u2028line separator",
    "tab\there",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_inventory_values_stay_data(value: str) -> None:
    rendered = render_inventory({"job_1": {"ansible_host": "127.0.0.1", "nr_payload": value, "ansible_port": 22}})

    tag, host_vars = load_tagged(rendered)["all"]["hosts"]["job_1"]
    assert tag == "unsafe"  # the host's variables are one unsafe mapping: Ansible never templates them
    assert set(host_vars) == {"ansible_host", "nr_payload", "ansible_port"}  # nothing injected
    assert host_vars["nr_payload"] == value  # verbatim
    assert host_vars["ansible_port"] == 22


def load_tagged(text: str) -> Any:
    """YAML where ``!unsafe MAPPING`` loads as ("unsafe", mapping)."""

    class UnsafeLoader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    UnsafeLoader.add_constructor("!unsafe", lambda loader, node: ("unsafe", loader.construct_mapping(node, deep=True)))
    return yaml.load(text, Loader=UnsafeLoader)  # noqa: S506 (a SafeLoader subclass)


@pytest.mark.parametrize("value", ["yes", "no", "0755", "null", "~", "1_000", "12345", "1.10", "true"])
def test_inventory_strings_that_look_like_other_types_stay_strings(value: str) -> None:
    # A password "yes" must reach ssh as "yes", not as true.
    _, host_vars = load_tagged(render_inventory({"job_1": {"ansible_password": value}}))["all"]["hosts"]["job_1"]
    assert host_vars["ansible_password"] == value


@pytest.mark.parametrize("name", ["bad-alias", "x y", "{{x}}", "Upper"])
def test_inventory_refuses_variable_names_that_are_not_identifiers(name: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        render_inventory({"job_1": {name: "v"}})


@pytest.mark.parametrize("alias", ["x y", "{{x}}", "-o", "a:b", "web[01:03]", "x\nansible_connection: local", ""])
def test_inventory_refuses_host_aliases_that_could_be_patterns_or_yaml(alias: str) -> None:
    with pytest.raises(ValueError, match="host alias"):
        render_inventory({alias: {"ansible_host": "h"}})


@pytest.mark.parametrize("alias", ["web-01", "1.2", "db.example.com", "true", "null", "job_1"])
def test_server_names_are_host_aliases_that_yaml_keeps_as_text(alias: str) -> None:
    parsed = load_tagged(render_inventory({alias: {"ansible_port": 22}}))
    assert parsed["all"]["hosts"] == {alias: ("unsafe", {"ansible_port": 22})}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_poll_answers_are_parsed() -> None:
    running = parse_poll(f"NRPOLL 10 3\nNROUT {b64(b'out')}\nNRERR {b64(b'err')}\n")
    assert (running.stdout_offset, running.stderr_offset, running.stdout, running.stderr) == (10, 3, b"out", b"err")
    assert not running.done
    finished = parse_poll("NRPOLL 0 0\nNROUT \nNRERR \nNRDONE 124 timeout\n")
    assert (finished.done, finished.exit_code, finished.reason) == (True, 124, "timeout")
    assert parse_poll("NRPOLL 0 0\nNROUT \nNRERR \nNRDONE 0 -\n").reason is None
    assert parse_poll("NRGONE\n").gone
    # How long the job ran, by the target's clock (a comma for a decimal point in some locales); unknown on an
    # old bash (no EPOCHREALTIME) or in a tombstone an older version wrote.
    assert parse_poll("NRPOLL 0 0\nNRDONE 0 - 1700000000.250000 1700000002.000000\n").ran_for == 1.75
    assert parse_poll("NRPOLL 0 0\nNRDONE 0 - 1700000000,5 1700000001,0\n").ran_for == 0.5
    assert parse_poll("NRPOLL 0 0\nNRDONE 0 - - -\n").ran_for is None
    assert parse_poll("NRPOLL 0 0\nNRDONE 3 -\n").ran_for is None
    for broken in ("", "NRPOLL x y", "NRPOLL 1 2\nNROUT !!!\n", "NRPOLL 1 2\nNRDONE abc -\n"):
        with pytest.raises(PollFormatError):
            parse_poll(broken)


def test_results_follow_exit_codes_and_reasons() -> None:
    spec = JobSpec("j", "command", "true", None, 7, Target("s", "h", 22, "u"))
    assert result_of(parse_poll("NRPOLL 0 0\nNRDONE 0 -"), spec).failure_reason is None
    assert result_of(parse_poll("NRPOLL 0 0\nNRDONE 3 -"), spec).failure_reason == "nonzero_exit"
    timed_out = result_of(parse_poll("NRPOLL 0 0\nNRDONE 124 timeout"), spec)
    assert (timed_out.failure_reason, timed_out.error) == ("timeout", "timed out after 7 s")
    assert result_of(parse_poll("NRPOLL 0 0\nNRDONE 143 canceled"), spec).failure_reason == "canceled"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            "Failed to connect to the host via ssh: nrt@127.0.0.1: Permission denied (publickey,password).",
            "auth_failed",
        ),
        ("Invalid/incorrect password: Permission denied, please try again.", "auth_failed"),
        (
            "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.",
            "host_key_mismatch",
        ),
        (
            "Using a SSH password instead of a key is not possible because Host Key checking is enabled",
            "host_key_mismatch",
        ),
        ("ssh: connect to host 127.0.0.1 port 1: Connection refused", "unreachable"),
        ("Connection timed out during banner exchange", "unreachable"),
    ],
)
def test_connection_failures_are_classified(message: str, reason: str) -> None:
    assert classify_unreachable(message) == reason


def test_remote_scripts_need_only_bash_and_coreutils() -> None:
    scripts = Path(__file__).resolve().parents[2] / "playbooks" / "files"
    for script in scripts.glob("*.sh"):
        text = script.read_text()
        assert "python" not in text.lower(), script.name


def test_a_round_reaches_ansible_with_every_variable(tmp_path: Path) -> None:
    """Each round rewrites the run's inventory, which Ansible reads again (meta: refresh_inventory in
    playbooks/job_round.yml): what Ansible's own inventory parser makes of it is what the jobs get, values as
    sent (no template evaluated, no YAML re-typing), the run's shared variables on every host."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    from app.runner.config import PLAYBOOKS_DIR
    from app.runner.jobs import ROUNDS_PER_RUN, _Rounds, job_vars, run_vars
    from app.runner.run_dir import RunDirectory
    from app.runner.spec import RunnerConfig

    rounds_played = yaml.safe_load((PLAYBOOKS_DIR / "run_jobs.yml").read_text())
    imported = [entry["vars"]["nr_round"] for entry in rounds_played if "import_playbook" in entry]
    assert imported == list(range(1, ROUNDS_PER_RUN + 1))
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    config = RunnerConfig(runs_dir=tmp_path, control_dir=tmp_path / "cp", playbooks_dir=PLAYBOOKS_DIR)
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    everything = Target(
        "s", "h", 22, "u", private_key=key.decode(), become_user="root", become_password="yes", python_interpreter="/py"
    )
    by_password = Target("s2", "h", 2222, "u", password="{{ lookup('pipe', 'id') }}", credential_digest="d")
    specs = [
        JobSpec("j1", "command", "true", None, 7, everything),
        JobSpec("j2", "script", "echo {{ x }}", "/bin/bash", 9, by_password),
    ]
    with RunDirectory(config) as run_dir:
        rounds = _Rounds(run_dir, config, source=None)
        rounds.write(specs[:1])
        inventory_path = rounds.write(specs)  # round 2 replaces round 1
        inventory = InventoryManager(loader=DataLoader(), sources=[str(inventory_path)])
        assert [host.name for host in inventory.get_hosts("nr_round_2")] == ["job_j1", "job_j2"]
        assert inventory.get_hosts("nr_round_1") == []
        for spec in specs:
            host = inventory.get_host("job_" + spec.job_id)
            seen = {name: value for name, value in host.get_vars().items() if not name.startswith("inventory_")}
            seen.update(inventory.groups["all"].get_vars())
            expected = {**run_dir.connection_vars(spec.target), **job_vars(spec), **rounds.shared}
            assert {name: seen.get(name) for name in expected} == expected
            assert set(run_vars("t", config)) == set(rounds.shared)
        # Secrets are named by handles; the sudo password is a lookup of the run's secret socket.
        text = inventory_path.read_text()
        assert '"yes"' not in text and "lookup('pipe'" not in text and key.decode().splitlines()[1] not in text
        become = inventory.get_host("job_j1").get_vars().get("ansible_become_password")
        handle = run_dir.connection_vars(everything)["nr_become_handle"]
        assert become is None  # a group's variable, not the host's
        group_vars = inventory.groups[f"nr_become_{handle}"].get_vars()
        assert group_vars["ansible_become_password"] == f"{{{{ lookup('newremora_secret', '{handle}') }}}}"


class NoMoreJobs:
    """A RoundSource with nothing to hand over."""

    def join_first(self, room: int) -> list[JobSpec]:
        return []

    def next_round(self) -> list[JobSpec]:
        return []

    def give_back(self, job_ids: list[str]) -> None:
        pass


def test_a_round_opens_each_new_connection_with_one_job_and_the_others_wait_for_it_in_the_same_round(
    tmp_path: Path,
) -> None:
    """Jobs of a server and credential whose ssh master is not up would each open a connection of their own:
    one job opens it, the others run in the same round, told to wait for that job (nr_after), never for the next
    round; where a master is up, none waits, and a credential whose opening round is over (its connection up or
    failed) never makes jobs wait again."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    from app.runner.config import PLAYBOOKS_DIR
    from app.runner.jobs import NO_WAIT, _Rounds
    from app.runner.run_dir import RunDirectory
    from app.runner.spec import RunnerConfig

    config = RunnerConfig(runs_dir=tmp_path, control_dir=tmp_path / "cp", playbooks_dir=PLAYBOOKS_DIR)
    config.control_dir.mkdir()
    (config.control_dir / "warm").touch()  # a master's socket
    cold_a, cold_b, warm = (
        Target(name, "h", 22, "u", password="pw", credential_digest=name) for name in ("a", "b", "warm")
    )
    specs = [
        JobSpec(f"{t.server_id}{i}", "command", "true", None, 7, t) for i in range(3) for t in (cold_a, cold_b, warm)
    ]

    def waits_for(inventory_path: Path, group: str) -> dict[str, str]:
        inventory = InventoryManager(loader=DataLoader(), sources=[str(inventory_path)])
        return {host.name[4:]: host.get_vars()["nr_after"] for host in inventory.get_hosts(group)}

    with RunDirectory(config) as run_dir:
        rounds = _Rounds(run_dir, config, source=NoMoreJobs())
        inventory = rounds.write(specs[:3])  # round 1 as the run starts: one job each
        rounds.ready_first(specs[3:])  # the jobs queued meanwhile join it, all of them
        assert sorted(spec.job_id for spec in rounds.first) == sorted(spec.job_id for spec in specs)
        assert waits_for(inventory, "nr_round_1") == {
            "a0": NO_WAIT,
            "b0": NO_WAIT,
            "warm0": NO_WAIT,
            "a1": "a0",
            "b1": "b0",
            "warm1": NO_WAIT,
            "a2": "a0",
            "b2": "b0",
            "warm2": NO_WAIT,
        }
        assert rounds.openers == {"a0", "b0"}
        # Round 2: the credentials were opened (or failed to be) in round 1: nobody waits.
        later = [JobSpec(f"a{i}", "command", "true", None, 7, cold_a) for i in (7, 8)]
        assert set(waits_for(rounds.write(later), "nr_round_2").values()) == {NO_WAIT}

        # A run that stops: a job that still waits never went on, and may never (the nr_round lookup refuses it);
        # one that went on (the lookup marked it), or that waited for nothing, may have started.
        (rounds.dir / "went_b1").touch()
        assert [job for job in ("a1", "b1", "a0", "warm1") if rounds.never_went(job)] == ["a1"]
        assert (rounds.dir / "went_a1").exists()


def test_a_data_dir_too_long_for_a_runs_sockets_is_refused_at_start() -> None:
    from app.errors import ConfigurationError
    from app.runner.config import MAX_RUNS_DIR_LENGTH, runner_config
    from app.settings import Settings

    fits = Path("/" + "d" * (MAX_RUNS_DIR_LENGTH - len("/runs") - 1))
    assert (
        len(str(runner_config(Settings(data_dir=fits, control_dir=Path("/tmp/nr-cp"))).runs_dir)) == MAX_RUNS_DIR_LENGTH
    )
    with pytest.raises(ConfigurationError, match=r"NEWREMORA_DATA_DIR: .* too long"):
        runner_config(Settings(data_dir=Path(str(fits) + "d"), control_dir=Path("/tmp/nr-cp")))
