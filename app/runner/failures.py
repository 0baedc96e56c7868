"""Turning Ansible's failures into the failure reasons and one-line errors users see."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

AUTH_MARKERS: Final = ("permission denied", "authentication failed", "incorrect password", "invalid/incorrect password")
# What Ansible reports when sudo refuses (a failed task, not an unreachable host): its own words for a wrong or
# missing password, and sudo's for a user it has no rule for (Ansible passes those on as the task's stderr).
BECOME_MARKERS: Final = (
    "incorrect sudo password",
    "missing sudo password",
    "sudo: a password is required",
    "is not in the sudoers file",
    "is not allowed to run sudo on",
    "may not run sudo on",
    "sudo: unknown user",
)
HOST_KEY_MARKERS: Final = (
    "remote host identification has changed",
    "host key verification failed",
    # What Ansible says instead when a password login meets a host key that does not match.
    "host key checking is enabled",
)
# The end of sudo's "Sorry, user U is not allowed to execute '<command>' as T on HOST." (a rule, but not for
# T). Its beginning is gone: the command it quotes holds Ansible's become-success marker, and Ansible drops
# everything up to that marker, which leaves the rest of our own scripts and this tail.
NOT_ALLOWED_TAIL: Final = r"' as {user}(:\S+)? on \S+\.\s*\Z"
# Where ssh's own explanation ends an Ansible message, after a colon; it is sometimes empty (ssh died, or was cut
# off, without a word).
SILENT_SSH: Final = "the connection closed (ssh gave no reason)"
# What ssh says when it never had a session on the server (so a job's command cannot have started over it); any
# other unreachable (the connection closed mid-way, or without a word) may have cut off a running job.
NEVER_CONNECTED_MARKERS: Final = (
    "connection refused",
    "timed out",
    "no route to host",
    "network is unreachable",
    "could not resolve hostname",
    "name or service not known",
    "temporary failure in name resolution",
    "kex_exchange_identification",
    "banner exchange",
)
# What each reason means, for messages that say nothing of their own.
DESCRIPTIONS: Final = {
    "host_key_mismatch": (
        "the server's SSH host key changed since it was trusted; re-trust it if the change is expected"
    ),
    "auth_failed": "SSH authentication failed (check user and credentials)",
    "unreachable": "the server could not be reached",
    "internal": "Ansible gave no reason",
}


@dataclass(frozen=True)
class Failure:
    reason: str
    error: str


def classify_unreachable(message: str) -> str:
    lowered = message.lower()
    if any(marker in lowered for marker in HOST_KEY_MARKERS):
        return "host_key_mismatch"
    if any(marker in lowered for marker in AUTH_MARKERS):
        return "auth_failed"
    return "unreachable"


def never_connected(message: str) -> bool:
    """Whether an unreachable host's message shows that ssh never had a session on it."""
    if classify_unreachable(message) != "unreachable":
        return True  # refused at login or for its host key
    lowered = message.lower()
    return any(marker in lowered for marker in NEVER_CONNECTED_MARKERS)


def become_refused(message: str, become_user: str) -> bool:
    lowered = message.lower()
    if any(marker in lowered for marker in BECOME_MARKERS):
        return True
    return re.search(NOT_ALLOWED_TAIL.format(user=re.escape(become_user)), message) is not None


def sudo_refused(become_user: str) -> str:
    """The documented error of a refused sudo (docs/inventories.md, Become)."""
    return f"sudo refused to run the job as {become_user!r}"


def failed_task(message: str, become_user: str | None) -> Failure | None:
    """What a failed task's message means when it is about the connection or sudo rather than the task itself:
    both fail the task (not the host) in Ansible's eyes. None for any other failure."""
    if classify_unreachable(message) == "host_key_mismatch":
        return Failure("host_key_mismatch", describe("host_key_mismatch", message))
    if become_user is not None and become_refused(message, become_user):
        return Failure("auth_failed", sudo_refused(become_user))
    return None


def complete(text: str, fallback: str) -> str:
    """``text`` without trailing blanks, never empty and never ending in a bare colon (what ssh said was empty)."""
    text = text.strip()
    if not text:
        return fallback
    return f"{text} {fallback}" if text.endswith(":") else text


def describe(reason: str, message: str) -> str:
    """A one-line error for the job, without the noise of ssh's banners."""
    if reason in ("host_key_mismatch", "auth_failed"):
        return DESCRIPTIONS[reason]
    lines = [line.strip() for line in message.splitlines() if line.strip() and not line.strip().startswith("@")]
    if not lines:
        return DESCRIPTIONS.get(reason, DESCRIPTIONS["unreachable"])
    return complete(lines[-1][:500], SILENT_SSH)
