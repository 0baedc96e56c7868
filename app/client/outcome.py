"""How a job's end becomes the exit code of ``run`` and ``logs --follow`` (the table is in the README)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

EXIT_TIMEOUT: Final = 124  # the job ran out of its timeout, as coreutils `timeout` reports it
EXIT_CLIENT: Final = 125  # the client could not submit or follow the job (service unreachable, refused, lost)
EXIT_LEFT: Final = 130  # the user pressed Ctrl-C twice and left the job being canceled (128 + SIGINT)
EXIT_CANCELED: Final = 143  # the job was canceled, by this client or anyone (128 + SIGTERM, what it was sent)
EXIT_NOT_RUN: Final = 255  # the job could not run on its server or was lost there, as ssh reports its own errors


@dataclass(frozen=True)
class Outcome:
    code: int
    message: str | None = None  # for stderr; None when the exit code says it all


def outcome_of(job_id: str, complete: dict[str, Any]) -> Outcome:
    """The exit code for a ``complete`` event (or a finished job, which has the same fields)."""
    status = complete.get("status")
    reason = complete.get("failure_reason")
    exit_code = complete.get("exit_code")
    detail = complete.get("error") or reason or "no reason given"
    if status == "completed":
        return Outcome(0)
    if status == "canceled":
        return Outcome(EXIT_CANCELED, f"job {job_id} canceled")
    if reason == "nonzero_exit" and isinstance(exit_code, int) and 0 < exit_code < 256:
        return Outcome(exit_code)  # the command's own failure: its stderr said what it had to say
    if reason == "timeout":
        return Outcome(EXIT_TIMEOUT, f"job {job_id} {detail}")
    return Outcome(EXIT_NOT_RUN, f"job {job_id} failed ({reason or 'unknown'}): {detail}")
