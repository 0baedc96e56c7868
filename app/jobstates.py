"""A job's statuses, and the groups of them that the queue, the listings and the counts share."""

from __future__ import annotations

from typing import Final, Literal

JobStatus = Literal["queued", "starting", "running", "completed", "failed", "canceled"]
JOB_STATUSES: Final[tuple[JobStatus, ...]] = ("queued", "starting", "running", "completed", "failed", "canceled")
# Held by a worker: claimed and not yet seen started on the target (starting), or seen started (running).
CLAIMED: Final[tuple[JobStatus, ...]] = ("starting", "running")
# Not ended yet.
ACTIVE: Final[tuple[JobStatus, ...]] = ("queued", *CLAIMED)
ENDED: Final[tuple[JobStatus, ...]] = ("completed", "failed", "canceled")
