"""Figures of the whole deployment, read from the database at each scrape: the same on every node."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from prometheus_client.core import GaugeMetricFamily, Metric

from app.clock import utcnow
from app.db import Database
from app.errors import DatabaseUnavailable
from app.jobqueue import stats

SCOPE: Final = "whole deployment, from the database"


@dataclass(frozen=True)
class Fleet:
    jobs: dict[str, int]
    oldest_queued_at: datetime | None
    servers: dict[str | None, int]
    worker_processes: int
    worker_threads: int
    worker_capacity: int


def read_fleet() -> Fleet:
    live = stats.live_workers()
    return Fleet(
        jobs=stats.job_counts(),
        oldest_queued_at=stats.oldest_queued_at(),
        servers=stats.connectivity_counts(),
        worker_processes=len(live),
        worker_threads=sum(item.worker.threads for item in live),
        worker_capacity=sum(item.worker.threads * item.worker.batch_size for item in live),
    )


class FleetCollector:
    """A prometheus_client collector. While the database is down only newremora_database_up (0) is reported,
    so the per-process figures of the same scrape still arrive."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("newremora_database_up", "1 when the database answered this scrape, else 0.")
        try:
            fleet = self.database.call(read_fleet)
        except DatabaseUnavailable:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        jobs = GaugeMetricFamily("newremora_jobs", f"Jobs by status ({SCOPE}).", labels=["status"])
        for status, count in fleet.jobs.items():
            jobs.add_metric([status], count)
        yield jobs
        yield GaugeMetricFamily(
            "newremora_queue_depth", f"Jobs waiting to be claimed by a worker ({SCOPE}).", value=fleet.jobs["queued"]
        )
        age = (utcnow() - fleet.oldest_queued_at).total_seconds() if fleet.oldest_queued_at else 0.0
        yield GaugeMetricFamily(
            "newremora_queue_oldest_age_seconds",
            f"Seconds the oldest queued job has waited, 0 when the queue is empty ({SCOPE}).",
            value=max(0.0, age),
        )
        servers = GaugeMetricFamily(
            "newremora_servers",
            f"Servers by what the last contact showed: connected, disconnected or unchecked ({SCOPE}).",
            labels=["connectivity"],
        )
        for state in ("connected", "disconnected", None):
            servers.add_metric([state or "unchecked"], fleet.servers.get(state, 0))
        yield servers
        yield GaugeMetricFamily(
            "newremora_workers_live",
            f"Worker processes whose heartbeat is recent ({SCOPE}).",
            value=fleet.worker_processes,
        )
        yield GaugeMetricFamily(
            "newremora_worker_slots_live",
            f"Worker threads of the live worker processes ({SCOPE}).",
            value=fleet.worker_threads,
        )
        yield GaugeMetricFamily(
            "newremora_worker_capacity_jobs",
            f"Jobs the live workers can run at once, threads x batch size ({SCOPE}).",
            value=fleet.worker_capacity,
        )
