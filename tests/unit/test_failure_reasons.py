"""The failure classifier (app/runner/failures.py) on the messages Ansible, ssh and sudo really produce: each
reason and error a user sees, and never an error that ends on an empty explanation."""

from __future__ import annotations

import pytest

from app.runner.checks import failed_check
from app.runner.failures import SILENT_SSH, describe, failed_task
from app.runner.jobs import start_failure
from app.runner.playbook_jobs import playbook_task_failure
from app.runner.spec import Target, TaskEvent

BECOME_USER = "deploy"
TARGET = Target("s", "127.0.0.1", 22, "nrt", become_user=BECOME_USER)
# What ansible-core 2.19 reports (as a failed task) when sudo asks for a password it was not given a right one for.
WRONG_PASSWORD = "Task failed: Incorrect sudo password"
MISSING_PASSWORD = "Task failed: Missing sudo password"
# A login user with no sudo rule at all: sudo's own words, in the task's stderr after Ansible's msg.
NOT_IN_SUDOERS = (
    "non-zero return code\n"
    "Warning: Permanently added '[127.0.0.1]:60325' (ED25519) to the list of known hosts.\r\n"
    "nrt45d5d2b0 is not in the sudoers file.\n"
)
# A rule for another become user: sudo's "Sorry, user ... is not allowed to execute '<command>' as root on vm.",
# of which Ansible keeps only what follows its become-success marker inside the quoted command.
NOT_ALLOWED = (
    "non-zero return code\n"
    "# usage: start.sh JOB_ID KIND SHELL_B64 TIMEOUT GRACE PAYLOAD_B64\n"
    "set -u\n"
    "exit 0\n"
    "' nr-poll 10e5b1b3-fc18-414d-9be7-71e2fa127902 b4b1a967a43cd27c 0 0 5000 524288 1' as {user} on vm.\n"
)
PASSWORD_LOGIN_HOST_KEY = (
    "Task failed: Using a SSH password instead of a key is not possible because Host Key checking is enabled. "
    "Please add this host's fingerprint to your known_hosts file to manage this host."
)


@pytest.mark.parametrize(
    "message",
    [WRONG_PASSWORD, MISSING_PASSWORD, NOT_IN_SUDOERS, NOT_ALLOWED.format(user=BECOME_USER)],
    ids=["wrong-password", "missing-password", "not-in-sudoers", "no-rule-for-the-become-user"],
)
def test_a_refused_sudo_is_auth_failed_with_the_documented_line(message: str) -> None:
    result = start_failure(message, TARGET)
    assert (result.failure_reason, result.error) == ("auth_failed", "sudo refused to run the job as 'deploy'")


def test_a_start_failure_that_is_not_sudo_stays_internal() -> None:
    # The tail names another user than the job's: not sudo refusing this job.
    other_user = start_failure(NOT_ALLOWED.format(user="root"), TARGET)
    assert other_user.failure_reason == "internal"
    # Without become, sudo's words in a command's output mean nothing about the job's start.
    plain = start_failure(NOT_IN_SUDOERS, Target("s", "127.0.0.1", 22, "nrt"))
    assert plain.failure_reason == "internal"
    disk = start_failure("non-zero return code\nmkdir: cannot create directory: No space left on device", TARGET)
    assert disk.failure_reason == "internal"
    assert disk.error is not None and disk.error.endswith("No space left on device")


def test_a_changed_host_key_on_a_password_login_is_host_key_mismatch() -> None:
    known = failed_task(PASSWORD_LOGIN_HOST_KEY, None)
    assert known is not None and known.reason == "host_key_mismatch"
    assert "host key changed" in known.error
    checked = failed_check(PASSWORD_LOGIN_HOST_KEY)
    assert (checked.connected, checked.failure_reason, checked.message) == (False, "host_key_mismatch", known.error)
    assert start_failure(PASSWORD_LOGIN_HOST_KEY, TARGET).failure_reason == "host_key_mismatch"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # ssh exited 255 without a word (its connection's sshd process killed, the listener gone).
        ("Failed to connect to the host via ssh: ", f"Failed to connect to the host via ssh: {SILENT_SSH}"),
        ("Failed to connect to the host via ssh:", f"Failed to connect to the host via ssh: {SILENT_SSH}"),
        (
            'Data could not be sent to remote host "127.0.0.1". Make sure this host can be reached over ssh: ',
            'Data could not be sent to remote host "127.0.0.1". Make sure this host can be reached over ssh: '
            + SILENT_SSH,
        ),
        ("", "the server could not be reached"),
        (
            "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused",
            "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused",
        ),
    ],
)
def test_an_unreachable_error_never_ends_empty(message: str, expected: str) -> None:
    assert describe("unreachable", message) == expected


def test_other_errors_never_end_empty() -> None:
    nothing = start_failure("", TARGET)
    assert (nothing.failure_reason, nothing.error) == ("internal", "the job failed to start: Ansible gave no reason")
    assert failed_check("").message == "the test command failed"


def _failed(rc: int | None, msg: str, stdout: str = "", stderr: str = "") -> TaskEvent:
    return TaskEvent(
        "web-01", "Deploy", "step", "ansible.builtin.command", "failed", False, False, rc, msg, stdout, stderr
    )


def test_a_playbook_module_silenced_by_sudo_is_a_sudo_refusal_only_when_nothing_else_explains_it() -> None:
    silent = _failed(1, "Module result deserialization failed: No start of json char found")
    refused = playbook_task_failure(silent, "root")
    assert refused is not None and (refused.reason, refused.error) == (
        "auth_failed",
        "sudo refused to run the job as 'root'",
    )
    # Without become, with output of its own, or with another exit code, it is the task's own failure.
    assert playbook_task_failure(silent, None) is None
    assert playbook_task_failure(_failed(1, silent.msg, stderr="Traceback (most recent call last):"), "root") is None
    assert playbook_task_failure(_failed(127, silent.msg), "root") is None
    assert playbook_task_failure(_failed(1, "non-zero return code"), "root") is None
