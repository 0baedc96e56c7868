"""Turning Ansible's connection failures into the failure reasons users see."""

from __future__ import annotations

from typing import Final

AUTH_MARKERS: Final = ("permission denied", "authentication failed", "incorrect password", "invalid/incorrect password")
# What Ansible reports when sudo refuses (a failed task, not an unreachable host).
BECOME_MARKERS: Final = ("incorrect sudo password", "missing sudo password", "sudo: a password is required")
HOST_KEY_MARKERS: Final = (
    "remote host identification has changed",
    "host key verification failed",
    # What Ansible says instead when a password login meets a host key that does not match.
    "host key checking is enabled",
)


def classify_unreachable(message: str) -> str:
    lowered = message.lower()
    if any(marker in lowered for marker in HOST_KEY_MARKERS):
        return "host_key_mismatch"
    if any(marker in lowered for marker in AUTH_MARKERS):
        return "auth_failed"
    return "unreachable"


def become_refused(message: str) -> bool:
    lowered = message.lower()
    return "sudo" in lowered and any(marker in lowered for marker in BECOME_MARKERS)


def describe(reason: str, message: str) -> str:
    """A one-line error for the job, without the noise of ssh's banners."""
    if reason == "host_key_mismatch":
        return "the server's SSH host key changed since it was trusted; re-trust it if the change is expected"
    if reason == "auth_failed":
        return "SSH authentication failed (check user and credentials)"
    lines = [line.strip() for line in message.splitlines() if line.strip() and not line.strip().startswith("@")]
    return lines[-1][:500] if lines else "the server could not be reached"
