"""The events a notification target may ask for: a job's or a batch's end, named after the status it ended in."""

from __future__ import annotations

from typing import Final, Literal

Event = Literal["job.completed", "job.failed", "job.canceled", "batch.completed", "batch.failed", "batch.canceled"]
EVENTS: Final[tuple[Event, ...]] = (
    "job.completed",
    "job.failed",
    "job.canceled",
    "batch.completed",
    "batch.failed",
    "batch.canceled",
)
# Sent by POST /api/v1/notification-targets/<id>/test whatever the target's events.
TEST_EVENT: Final = "test"
Format = Literal["json", "slack"]
FORMATS: Final[tuple[Format, ...]] = ("json", "slack")


def job_event(status: str) -> str:
    return f"job.{status}"


def batch_event(status: str) -> str:
    return f"batch.{status}"
