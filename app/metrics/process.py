"""What one process measures about itself: its jobs, its Ansible runs, the output it received, its open streams
and its worker slots. Every figure here is this process's own: sum them over processes (docs/operations.md)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder

from app.clock import utcnow

log = logging.getLogger(__name__)

VERSION: Final = "0.1.0"
# Jobs last from under a second (echo) to hours (backups); runs as long as the longest job in them.
JOB_BUCKETS: Final = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)
RUN_BUCKETS: Final = (0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 300, 1800, 3600, 4 * 3600)
FINAL_STATUSES: Final = ("completed", "failed", "canceled")
# Why the worker pool replaced a thread (app/workers/pool.py): it ended, or its run showed no sign of life.
THREAD_REPLACED_REASONS: Final = ("died", "stalled")


class ProcessMetrics:
    """The registry of one process. Built per Runtime, never global, so that two apps in one process (tests)
    do not add up each other's figures."""

    def __init__(self) -> None:
        # No *_created series beside every counter and histogram: noise to Prometheus' text format.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, process_resident_memory_bytes...
        PlatformCollector(registry=self.registry)
        self._process = Info(
            "newremora_process",
            "What this process is: role serve (API and workers), api (serve --no-workers) or worker.",
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "newremora_job_duration_seconds",
            "Seconds from start to end of the jobs this process's workers finished, by final status.",
            ["status"],
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self.jobs_finished = Counter(
            "newremora_jobs_finished",
            "Jobs this process's workers finished, by final status and failure reason (none when completed).",
            ["status", "failure_reason"],
            registry=self.registry,
        )
        self.ansible_run_duration = Histogram(
            "newremora_ansible_run_duration_seconds",
            "Seconds each ansible-runner run of this process lasted, by playbook (run_jobs: rounds of jobs, "
            "cancel, check) and outcome.",
            ["playbook", "outcome"],
            buckets=RUN_BUCKETS,
            registry=self.registry,
        )
        self.output_bytes = Counter(
            "newremora_output_bytes",
            "Bytes of live job output this process's workers received from targets, by stream.",
            ["stream"],
            registry=self.registry,
        )
        self.sse_clients = Gauge(
            "newremora_sse_clients", "Event streams open on this process right now.", registry=self.registry
        )
        self.worker_slots = Gauge(
            "newremora_worker_slots",
            "Worker threads of this process (each runs one Ansible process, for a batch of jobs, at a time).",
            registry=self.registry,
        )
        self.worker_busy_slots = Gauge(
            "newremora_worker_busy_slots",
            "Worker threads of this process running a batch now (utilisation: busy slots / slots).",
            registry=self.registry,
        )
        self.worker_running_jobs = Gauge(
            "newremora_worker_running_jobs",
            "Jobs in the Ansible runs of this process's worker threads now.",
            registry=self.registry,
        )
        self.worker_threads_replaced = Counter(
            "newremora_worker_threads_replaced",
            "Worker threads of this process replaced by its supervisor, by reason: died (ended by an error) or "
            "stalled (no sign of life for NEWREMORA_STALL_TIMEOUT); their jobs were handed back to be re-attached.",
            ["reason"],
            registry=self.registry,
        )
        self.connections_lost = Counter(
            "newremora_job_connections_lost",
            "Connections to started jobs that this process's worker threads lost, by what followed: reconnecting "
            "(the job was handed back to be re-attached) or interrupted (lost for NEWREMORA_RECONNECT_GRACE).",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ("reconnecting", "interrupted"):
            self.connections_lost.labels(outcome)
        for reason in THREAD_REPLACED_REASONS:
            self.worker_threads_replaced.labels(reason)
        for status in FINAL_STATUSES:
            self.job_duration.labels(status)
        for stream in ("stdout", "stderr"):
            self.output_bytes.labels(stream)

    def set_role(self, role: str) -> None:
        self._process.info({"role": role, "version": VERSION})

    def watch_sse_clients(self, count: Callable[[], int]) -> None:
        self.sse_clients.set_function(count)

    def watch_workers(self, slots: Callable[[], int], busy: Callable[[], int], running: Callable[[], int]) -> None:
        self.worker_slots.set_function(slots)
        self.worker_busy_slots.set_function(busy)
        self.worker_running_jobs.set_function(running)

    def job_finished(self, status: str, failure_reason: str | None, started_at: datetime | None) -> None:
        self.jobs_finished.labels(status, failure_reason or "none").inc()
        if started_at is not None:
            self.job_duration.labels(status).observe(max(0.0, (utcnow() - started_at).total_seconds()))

    def connection_lost(self, outcome: str) -> None:
        self.connections_lost.labels(outcome).inc()

    def thread_replaced(self, reason: str) -> None:
        self.worker_threads_replaced.labels(reason).inc()

    def output_received(self, stream: str, size: int) -> None:
        self.output_bytes.labels(stream).inc(size)

    def run_ended(self, playbook: str, outcome: str, seconds: float) -> None:
        """A RunObserver (app/runner/spec.py): called by the runner after every ansible-runner run."""
        self.ansible_run_duration.labels(playbook, outcome).observe(seconds)

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition (Prometheus text, or OpenMetrics when the scraper asks for it) and its content type.
        Collectors added to the registry may read the database: call it from a thread, not the event loop."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type
