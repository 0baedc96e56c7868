"""Parsing the answers of playbooks/files/poll.sh (see the format there)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass


class PollFormatError(ValueError):
    pass


@dataclass(frozen=True)
class PollAnswer:
    stdout_offset: int
    stderr_offset: int
    stdout: bytes
    stderr: bytes
    exit_code: int | None = None
    reason: str | None = None
    gone: bool = False
    # How long the job ran, by the target's clock (None: its bash cannot tell, or an older tombstone).
    ran_for: float | None = None

    @property
    def done(self) -> bool:
        return self.exit_code is not None


def parse_poll(text: str) -> PollAnswer:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key.startswith("NR"):
            fields[key] = value.strip()
    if "NRGONE" in fields:
        return PollAnswer(0, 0, b"", b"", gone=True)
    try:
        out_offset, err_offset = (int(v) for v in fields["NRPOLL"].split())
        stdout = base64.b64decode(fields.get("NROUT", ""), validate=True)
        stderr = base64.b64decode(fields.get("NRERR", ""), validate=True)
        exit_code = reason = ran_for = None
        if "NRDONE" in fields:
            code, why, *times = [*fields["NRDONE"].split(), "-"]
            exit_code = int(code)
            reason = None if why == "-" else why
            ran_for = _seconds_between(*times[:2]) if len(times) >= 2 else None
    except (KeyError, ValueError, binascii.Error) as exc:
        raise PollFormatError(f"unexpected poll answer: {text[:200]!r}") from exc
    return PollAnswer(out_offset, err_offset, stdout, stderr, exit_code, reason, ran_for=ran_for)


def _seconds_between(began: str, ended: str) -> float | None:
    """EPOCHREALTIME stamps (a comma for a decimal point in some locales); None when either is unknown."""
    try:
        seconds = float(ended.replace(",", ".")) - float(began.replace(",", "."))
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
