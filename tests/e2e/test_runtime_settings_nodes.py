"""Runtime settings across the processes of one deployment on PostgreSQL: two API nodes and a worker process, and
``newremora settings`` on the same database. A change made through one node is in effect in the other and in the
worker without a restart (within the LiveSettings refresh, about a second), and every change is one audit row."""

from __future__ import annotations

import getpass
import json
import uuid
from pathlib import Path

import httpx
import pytest

from tests.harness.cli import newremora
from tests.harness.service import Service
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow

DEFAULT_TIMEOUT = 7 * 24 * 3600
TIMEOUT_OVER = "400 timeout: at most"


def refusal(http: httpx.Client, timeout: int) -> str:
    """The answer to a job over a server that does not exist: the timeout is checked first (400), else 404."""
    answer = http.post("/jobs", json={"command": "true", "server_id": str(uuid.uuid4()), "timeout": timeout})
    return f"{answer.status_code} {answer.json()['error']}"


def debug_line(log: str) -> bool:
    lines = (json.loads(line) for line in log.splitlines() if line.startswith("{"))
    return any(line["level"] == "debug" and line["message"] == "log level debug in effect" for line in lines)


def test_a_change_through_one_node_acts_in_every_process_and_the_cli_changes_it_too(
    tmp_path: Path, pg_env: dict[str, str]
) -> None:
    env = {**pg_env, "NEWREMORA_LOG_FORMAT": "json"}
    started = []
    try:
        for number in range(2):
            started.append(Service.start(tmp_path / f"api-{number}", env, ("serve", "--no-workers")))
        started.append(Service.start(tmp_path / "worker", env, ("worker", "--threads", "1")))
        first_node, second_node, worker = started
        first = httpx.Client(base_url=f"{first_node.base_url}/api/v1", timeout=30)
        second = httpx.Client(base_url=f"{second_node.base_url}/api/v1", timeout=30)
        assert refusal(second, 61) == "404 Server not found"
        assert not debug_line(worker.log())

        changed = first.patch("/settings", json={"max_job_timeout": 60, "log_level": "debug"})
        assert changed.status_code == 200, changed.text
        wait_until(lambda: refusal(second, 61), 10, "node 2 to refuse", done=f"{TIMEOUT_OVER} 60 seconds".__eq__)
        assert refusal(second, 60) == "404 Server not found"
        wait_until(lambda: debug_line(worker.log()), 10, "the worker process to log at debug level")
        shown = {item["name"]: item for item in second.get("/settings").json()["data"]["settings"]}
        timeout = shown["max_job_timeout"]
        assert (timeout["value"], timeout["source"], timeout["changed_by"]) == (60, "runtime", "local:local")

        # The CLI, on the same database: the nodes follow it too.
        cli_env = pg_env
        done = newremora("settings", "set", "max_job_timeout", "30", env=cli_env)
        assert done.returncode == 0, done.stderr
        assert "max_job_timeout: 60 -> 30" in done.stdout
        wait_until(lambda: refusal(second, 31), 10, "the CLI's value", done=f"{TIMEOUT_OVER} 30 seconds".__eq__)
        listed = newremora("settings", "list", env=cli_env)
        assert listed.returncode == 0, listed.stderr
        line = next(line for line in listed.stdout.splitlines() if line.startswith("max_job_timeout"))
        assert line.split()[:3] == ["max_job_timeout", "30", "runtime;"] and f"default: {DEFAULT_TIMEOUT}" in line
        for args, message in (
            (("set", "max_job_timeout", "0"), "max_job_timeout: expected an integer in 1..31536000, got 0"),
            (("set", "shell_timeout", "5"), "shell_timeout: not a setting that can change at runtime"),
            (("reset", "secret_key"), "secret_key: not a setting that can change at runtime"),
        ):
            refused = newremora("settings", *args, env=cli_env)
            assert refused.returncode == 2 and message in refused.stderr, (args, refused.stderr)
        done = newremora("settings", "reset", "max_job_timeout", env=cli_env)
        assert done.returncode == 0 and f"max_job_timeout: 30 -> {DEFAULT_TIMEOUT}" in done.stdout, done.stderr
        wait_until(lambda: refusal(first, 61), 10, "the reset in effect", done="404 Server not found".__eq__)

        events = second.get("/audit", params={"action": "settings.change"}).json()["data"]["events"]
        cli_actor = f"cli:{getpass.getuser()}"
        assert [(e["actor"], e["outcome"], e["summary"]) for e in events] == [  # newest first
            (cli_actor, "success", {"max_job_timeout": {"old": 30, "new": DEFAULT_TIMEOUT}}),
            (cli_actor, "success", {"max_job_timeout": {"old": 60, "new": 30}}),
            (
                "local:local",
                "success",
                {"log_level": {"old": "info", "new": "debug"}, "max_job_timeout": {"old": DEFAULT_TIMEOUT, "new": 60}},
            ),
        ]
        first.close()
        second.close()
    finally:
        for service in started:
            service.stop()
