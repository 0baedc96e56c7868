"""The ``newremora`` client against a real service (Hypercorn, API keys on), a real sshd and real runs, each
command run as a subprocess as a user would."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.cli import ClientProcess, newremora
from tests.harness.service import Service
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until
from tests.harness.webhook import Receiver

pytestmark = pytest.mark.slow

CANCELED = 143  # the documented exit codes of run / logs --follow
TIMED_OUT = 124
LEFT = 130
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, control_root: Path) -> Iterator[Service]:
    env = {
        "NEWREMORA_WORKERS": "2",
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_JOB_RATE_LIMIT": "0",
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
    }
    started = Service.start(tmp_path_factory.mktemp("cli-service"), env)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def api_key(service: Service) -> str:
    """API keys on: the key made with `newremora token create`, as an operator would."""
    made = newremora("token", "create", "--name", "cli", env={"NEWREMORA_DATA_DIR": str(service.workdir / "var")})
    assert made.returncode == 0, made.stderr
    service.wait_for_keys(401)  # made by another process: counts within a second
    return made.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def env(service: Service, api_key: str) -> dict[str, str]:
    return {"NEWREMORA_URL": service.base_url, "NEWREMORA_TOKEN": api_key}


@pytest.fixture(scope="module")
def server(env: dict[str, str], sshd: SshTarget) -> str:
    """The name of a server pointing at the test sshd, added with the client (password from stdin)."""
    name = f"cli-{uuid.uuid4().hex[:8]}"
    added = newremora(
        *("servers", "add", name, "--host", sshd.host, "--port", str(sshd.port), "--user", sshd.user.name),
        "--password-file=-",
        env=env,
        input=sshd.user.password + "\n",
    )
    assert added.returncode == 0, added.stderr
    return name


def job_state(service: Service, api_key: str, job_id: str) -> dict[str, object]:
    answer = httpx.get(
        f"{service.base_url}/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    data: dict[str, object] = answer.json()["data"]
    return data


def wait_for_status(service: Service, api_key: str, job_id: str, status: str, timeout: float = 60) -> None:
    wait_until(
        lambda: job_state(service, api_key, job_id),
        timeout,
        f"job {job_id} to be {status}",
        0.2,
        done=lambda current: current["status"] == status,
    )


def test_servers_add_with_a_key_file_list_and_test(
    env: dict[str, str], service: Service, sshd: SshTarget, tmp_path: Path
) -> None:
    without_key = newremora("servers", "list", env={"NEWREMORA_URL": service.base_url, "HOME": str(tmp_path)})
    assert without_key.returncode == 1
    assert "API key" in without_key.stderr and "NEWREMORA_TOKEN" in without_key.stderr

    # The key from a file given by option: refused while others can read it, as ssh refuses such keys.
    key_file = tmp_path / "token"
    key_file.write_text(env["NEWREMORA_TOKEN"] + "\n")
    key_file.chmod(0o644)
    file_env = {"NEWREMORA_URL": service.base_url}
    loose = newremora("servers", "list", "--token-file", str(key_file), env=file_env)
    assert loose.returncode == 1 and "readable by other users" in loose.stderr
    key_file.chmod(0o600)

    name = f"key-{uuid.uuid4().hex[:8]}"
    target = ("--host", sshd.host, "--port", str(sshd.port), "--user", sshd.user.name)
    key_path = str(sshd.user.private_key_path)
    added = newremora(
        "servers", "add", name, *target, "--key-file", key_path, "--token-file", str(key_file), env=file_env
    )
    assert added.returncode == 0, added.stderr
    server_id = UUID.search(added.stdout)
    assert server_id and added.stdout.startswith(f"server {name} added")
    again = newremora("servers", "add", name, *target, "--key-file", key_path, env=env)
    assert (again.returncode, again.stderr) == (1, f"newremora: a server named '{name}' already exists\n")

    listed = newremora("servers", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(name))
    assert server_id.group() in row and f"{sshd.user.name}@{sshd.host}:{sshd.port}" in row and "key" in row
    as_json = json.loads(newremora("servers", "list", "--json", env=env).stdout)
    mine = next(s for s in as_json if s["name"] == name)
    assert mine["has_private_key"] is True and "private_key" not in mine

    tested = newremora("servers", "test", name, env=env)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert re.fullmatch(rf"{name}: connected in \d+ ms\n", tested.stdout)
    assert tested.stderr == ""  # no progress line when stderr is not a terminal
    by_id = newremora("servers", "test", server_id.group(), "--json", env=env)
    assert by_id.returncode == 0 and json.loads(by_id.stdout)["status"] == "connected"
    missing = newremora("servers", "test", "no-such-server", env=env)
    assert missing.returncode == 1 and "no server named" in missing.stderr


def test_run_prints_lines_as_they_come_and_exits_with_the_jobs_code(
    env: dict[str, str], server: str, service: Service, api_key: str, gate: Path
) -> None:
    script = f"echo first; echo oops >&2; while [ ! -e {gate}/open ]; do sleep 0.1; done; echo second; exit 3"
    client = ClientProcess("run", server, "--", script, env=env)
    client.wait_for("stdout", "first\n")
    client.wait_for("stderr", "oops\n")
    # The first lines are out while the job still runs: it waits for the gate.
    assert client.process.poll() is None
    jobs = json.loads(newremora("jobs", "list", "--status", "running", "--json", env=env).stdout)["jobs"]
    assert [j["command"] for j in jobs if j["server"]["name"] == server] == [script]
    (gate / "open").touch()
    assert client.finish() == 3
    assert client.text("stdout") == "first\nsecond\n"
    assert client.text("stderr") == "oops\n"  # the job's stderr only: nothing of the client's when piped

    # By id, the words joined as ssh joins them; exit 0.
    server_id = json.loads(newremora("servers", "list", "--json", env=env).stdout)
    server_id = next(s["id"] for s in server_id if s["name"] == server)
    ok = newremora("run", server_id, "--", "printf", "'%s|'", "a b", "c;", "echo", "done", env=env)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "a|b|c|done\n", "")

    timed_out = newremora("run", server, "--timeout", "1", "--", "echo start; sleep 30", env=env)
    assert timed_out.returncode == TIMED_OUT, timed_out.stderr
    assert timed_out.stdout == "start\n" and "timed out after 1 s" in timed_out.stderr


def test_run_follows_its_job_across_a_restart_of_the_service(
    tmp_path: Path, services: list[Service], sshd: SshTarget, gate: Path, control_root: Path
) -> None:
    """The client reconnects and resumes after the last line it had: nothing lost, nothing twice."""
    env = {"NEWREMORA_WORKERS": "1", "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root)}
    first = Service.start(tmp_path, env)
    services.append(first)
    client_env = {"NEWREMORA_URL": first.base_url}
    name = f"r-{uuid.uuid4().hex[:8]}"
    body = sshd.server_body(name)
    assert httpx.post(f"{first.base_url}/api/v1/servers", json=body, timeout=30).status_code == 201
    script = f"echo before; echo err-before >&2; while [ ! -e {gate}/open ]; do sleep 0.1; done; echo after; exit 7"
    client = ClientProcess("run", name, "--", script, env=client_env)
    client.wait_for("stdout", "before\n")
    client.wait_for("stderr", "err-before\n")

    assert first.terminate(timeout=30) == 0  # the job goes on, detached on its target
    (gate / "open").touch()
    services.append(Service.start(tmp_path, env, port=first.port))  # re-attaches the job
    assert client.finish() == 7
    assert client.text("stdout") == "before\nafter\n"
    assert client.text("stderr") == "err-before\n"


def test_logs_follow_a_running_job_until_cancel(
    env: dict[str, str], server: str, service: Service, api_key: str
) -> None:
    started = newremora("run", "--detach", server, "--", "echo started; echo warming >&2; sleep 60", env=env)
    assert started.returncode == 0, started.stderr
    job_id = started.stdout.strip()
    assert UUID.fullmatch(job_id)

    follower = ClientProcess("logs", job_id, "--follow", env=env)
    follower.wait_for("stdout", "started\n")
    follower.wait_for("stderr", "warming\n")
    assert follower.process.poll() is None  # still following the running job

    canceled = newremora("cancel", job_id, env=env)
    assert canceled.returncode == 0, canceled.stderr
    assert canceled.stdout in (f"job {job_id} is being stopped\n", f"job {job_id} canceled\n")
    assert follower.finish() == CANCELED
    assert follower.text("stdout") == "started\n"
    assert follower.text("stderr") == f"warming\nnewremora: job {job_id} canceled\n"

    stored = newremora("logs", job_id, env=env)
    assert (stored.returncode, stored.stdout, stored.stderr) == (0, "started\n", "warming\n")
    listed = newremora("jobs", "list", "--status", "canceled", "--server", server, env=env)
    assert any(line.startswith(job_id) and "canceled" in line for line in listed.stdout.splitlines()), listed.stdout
    # Who submitted and who canceled: the key the client used, in the API and in the list's BY column.
    shown = job_state(service, api_key, job_id)
    assert str(shown["submitted_by"]).startswith("key:") and shown["canceled_by"] == shown["submitted_by"]
    line = next(line for line in listed.stdout.splitlines() if line.startswith(job_id))
    assert f"{shown['submitted_by']} (canceled by {shown['canceled_by']})" in line, listed.stdout
    twice = newremora("cancel", job_id, env=env)
    assert twice.returncode == 1 and "already canceled" in twice.stderr
    unknown = newremora("logs", str(uuid.uuid4()), env=env)
    assert unknown.returncode == 1 and "Job not found" in unknown.stderr


def test_ctrl_c_cancels_the_job_and_a_second_one_leaves(
    env: dict[str, str], server: str, service: Service, api_key: str
) -> None:
    # On a terminal the client shows the job's state while it waits for output (the job is silent for a
    # second: a warm run starts it within ~0.1 s); the first Ctrl-C cancels the job and waits for its end.
    client = ClientProcess("run", server, "--", "sleep 1; echo ready; sleep 60", env=env, stderr_tty=True)
    client.wait_for("stdout", "ready\n")
    shown = client.text("stderr")
    job_id = UUID.search(shown)
    assert job_id and f"on {server}" in shown and "\x1b[K" in shown
    client.process.send_signal(signal.SIGINT)
    assert client.finish() == CANCELED
    assert f"canceling job {job_id.group()}" in client.text("stderr")
    assert f"job {job_id.group()} canceled" in client.text("stderr")
    assert job_state(service, api_key, job_id.group())["status"] == "canceled"

    # A second Ctrl-C leaves at once; the cancel goes on without the client.
    second = ClientProcess("run", "--priority", "9", server, "--", "echo ready; sleep 60", env=env)
    second.wait_for("stdout", "ready\n")
    second.process.send_signal(signal.SIGINT)
    second.wait_for("stderr", "Ctrl-C again")
    second.process.send_signal(signal.SIGINT)
    assert second.finish() == LEFT
    left = re.search(rf"SIGINT: left job ({UUID.pattern}), which is being canceled", second.text("stderr"))
    assert left, second.text("stderr")
    wait_for_status(service, api_key, left.group(1), "canceled")

    # SIGTERM (a CI runner stopping the client, `timeout`): the job is canceled, the client leaves at once.
    third = ClientProcess("run", server, "--", "echo ready; sleep 60", env=env)
    third.wait_for("stdout", "ready\n")
    third.process.terminate()
    assert third.finish() == 128 + signal.SIGTERM
    asked = re.search(rf"SIGTERM: left job ({UUID.pattern}), which is being canceled", third.text("stderr"))
    assert asked, third.text("stderr")
    wait_for_status(service, api_key, asked.group(1), "canceled")


def test_launch_a_template_by_name_with_typed_values_and_list_templates(
    env: dict[str, str], service: Service, api_key: str, server: str
) -> None:
    name = f"tpl-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=service.base_url, headers=headers, timeout=30) as http:
        server_id = http.get("/api/v1/servers").json()["data"]["servers"]
        target = next(one["id"] for one in server_id if one["name"] == server)
        body = {
            "name": name,
            "kind": "command",
            "command": 'printf "%s|%s|%s\\n" "$who" "$times" "$loud"; exit "$times"',
            "server_id": target,
            "parameters": [
                {"name": "who", "type": "string", "required": True},
                {"name": "times", "type": "integer", "min": 0, "max": 9, "default": 0},
                {"name": "loud", "type": "boolean", "default": False},
            ],
        }
        assert http.post("/api/v1/templates", json=body).status_code == 201

    listed = newremora("templates", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(name))
    assert "command" in row and "who*, times, loud" in row

    # Values as strings, converted by type; the job streams and the launch exits with its exit code.
    launched = newremora("launch", name, "-p", "who=a b;$(id)", "-p", "times=3", "-p", "loud=yes", env=env)
    assert (launched.returncode, launched.stdout) == (3, "a b;$(id)|3|true\n"), launched.stderr
    bad = newremora("launch", name, "-p", "who=x", "-p", "times=many", env=env)
    assert (bad.returncode, bad.stderr) == (125, "newremora: parameters.times: must be an integer\n")
    detached = newremora("launch", name, "-p", "who=z", "--no-follow", env=env)
    assert detached.returncode == 0 and UUID.fullmatch(detached.stdout.strip()), detached.stderr
    job = job_state(service, api_key, detached.stdout.strip())
    assert job["parameters"] == {"who": "z", "times": 0, "loud": False} and job["template_version"] == 1


def _snippet(printed: str) -> str:
    """The signing example a trigger command printed: from its URL= line to the end."""
    return printed[printed.index("URL=") :]


def _deliveries_showing(env: dict[str, str], target: str, text: str) -> str:
    """``notifications deliveries TARGET`` once its table shows ``text``."""

    def listed() -> str:
        done = newremora("notifications", "deliveries", target, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return wait_until(listed, 30, f"{text!r} in the deliveries of {target}", 0.2, done=lambda out: text in out)


def test_triggers_and_notifications_from_the_command_line(
    env: dict[str, str], service: Service, api_key: str, server: str, tmp_path: Path
) -> None:
    name = f"hooked-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=service.base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as http:
        target = next(
            one["id"] for one in http.get("/api/v1/servers").json()["data"]["servers"] if one["name"] == server
        )
        body = {
            "name": name,
            "kind": "command",
            "command": 'echo "deploying $version"; exit 4',
            "server_id": target,
            "parameters": [{"name": "version", "type": "string", "required": True}],
        }
        assert http.post("/api/v1/templates", json=body).status_code == 201

    # Notification targets: one for this template's failed jobs, its secret from stdin (never argv); one whose
    # random secret is printed once.
    receiver = Receiver({"/failures": [500], "/tests": [200]})
    own_secret = "a-secret-given-on-stdin-" + uuid.uuid4().hex
    with receiver.running():
        failures = f"fail-{name}"
        made = newremora(
            *("notifications", "create", "--name", failures, "--webhook-url", f"{receiver.url}/failures"),
            *("--event", "job.failed", "--event", "job.canceled", "--template", name, "--secret-file", "-"),
            env=env,
            input=own_secret + "\n",
        )
        assert made.returncode == 0, made.stderr
        assert made.stdout.startswith(f"notification target '{failures}' created: ") and own_secret not in made.stdout
        tests = f"test-{name}"
        made = newremora(
            *(
                "notifications",
                "create",
                "--name",
                tests,
                "--webhook-url",
                f"{receiver.url}/tests",
                "--event",
                "job.completed",
            ),
            *("--template", name, "--format", "slack"),
            env=env,
        )
        assert made.returncode == 0, made.stderr
        printed_secret = re.search(r"signing secret \(shown only now; give it to the receiver\): (\S+)\n", made.stdout)
        assert printed_secret, made.stdout
        listed = newremora("notifications", "list", env=env)
        row = next(line for line in listed.stdout.splitlines() if line.startswith(failures))
        assert "job.failed, job.canceled" in row and "json" in row and "yes" in row and "secret" not in listed.stdout
        bad = newremora(
            "notifications", "create", "--name", "x", "--webhook-url", receiver.url, "--event", "job.exploded", env=env
        )
        assert bad.returncode == 1 and bad.stderr.startswith("newremora: ") and "events" in bad.stderr, bad.stderr
        missing = newremora("notifications", "test", "no-such-target", env=env)
        assert (missing.returncode, missing.stderr) == (
            1,
            "newremora: no notification target named or with id 'no-such-target'\n",
        )

        # A trigger made from the command line; the printed example, run as printed, signs and launches.
        created = newremora(
            "triggers", "create", name, "--name", "release", "--map", "version=release.tag_name", env=env
        )
        assert created.returncode == 0, created.stderr
        trigger_id = UUID.search(created.stdout.splitlines()[0])
        assert trigger_id and "shown only now" in created.stdout, created.stdout
        assert 'BODY=\'{"release": {"tag_name": "value"}}\'' in created.stdout
        sent = subprocess.run(["bash", "-c", _snippet(created.stdout)], capture_output=True, text=True, timeout=30)
        launched = json.loads(sent.stdout)
        assert launched["success"] is True, sent.stdout + sent.stderr
        (job_id,) = launched["data"]["job_ids"]
        wait_for_status(service, api_key, job_id, "failed")
        job = job_state(service, api_key, job_id)
        assert job["parameters"] == {"version": "value"} and job["submitted_by"] == f"trigger:{trigger_id.group()}"
        listed = newremora("triggers", "list", name, env=env)
        row = next(line for line in listed.stdout.splitlines() if line.startswith("release"))
        assert trigger_id.group() in row and "version=release.tag_name" in row and "10/min" in row
        assert f"/hooks/{trigger_id.group()}" in row and "nrwh_" not in listed.stdout

        # The failed job's notification: its attempt, refused with a 500, under the delivery.
        shown = _deliveries_showing(env, failures, "HTTP 500")
        lines = shown.splitlines()
        assert lines[0].split() == ["QUEUED", "EVENT", "JOB", "OR", "BATCH", "STATE", "DELIVERED", "/", "NEXT", "TRY"]
        assert "job.failed" in lines[1] and job_id in lines[1] and "pending" in lines[1]
        assert re.search(r"attempt 1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+HTTP 500 \(\d+ ms\)", lines[2]), shown
        assert receiver.on("/failures")[0].signed_by(own_secret)
        tested = newremora("notifications", "test", tests, env=env)
        assert tested.returncode == 0 and tested.stdout.startswith(f"test event queued for {tests}: "), tested.stderr
        shown = _deliveries_showing(env, tests, "HTTP 200")
        assert "test" in shown.splitlines()[1] and "delivered" in shown.splitlines()[1]
        assert receiver.on("/tests")[0].signed_by(printed_secret.group(1))

        assert newremora("notifications", "disable", failures, env=env).returncode == 0
        disabled = newremora("notifications", "list", "--json", env=env)
        assert next(t for t in json.loads(disabled.stdout) if t["name"] == failures)["enabled"] is False
        for one in (failures, tests):
            assert newremora("notifications", "delete", one, env=env).returncode == 0
        assert name not in newremora("notifications", "list", env=env).stdout

    # Rotating: the old secret is refused, the new one printed once; a deleted trigger refuses every request.
    rotated = newremora("triggers", "rotate", trigger_id.group(), env=env)
    assert rotated.returncode == 0 and "has a new secret" in rotated.stdout, rotated.stderr
    old = subprocess.run(["bash", "-c", _snippet(created.stdout)], capture_output=True, text=True, timeout=30)
    assert json.loads(old.stdout)["success"] is False
    assert newremora("triggers", "delete", trigger_id.group(), env=env).returncode == 0
    new = subprocess.run(["bash", "-c", _snippet(rotated.stdout)], capture_output=True, text=True, timeout=30)
    assert json.loads(new.stdout)["success"] is False
    assert "release" not in newremora("triggers", "list", name, env=env).stdout
    wrong = newremora("triggers", "create", name, "--map", "version", env=env)
    assert (wrong.returncode, wrong.stderr) == (
        1,
        "newremora: --map version: give parameter=body.path (e.g. version=release.tag_name)\n",
    )
