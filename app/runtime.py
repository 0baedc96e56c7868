"""The resources one running service owns, opened together and closed together."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.apikeys import LiveKeys
from app.db import Database
from app.files import private_dir
from app.jobqueue.announce import NO_EVENTS, FanOut, JobEvents, NotifyOthers, StoredChunk
from app.jobqueue.totals import ListingTotals
from app.keycheck import KeyCheckOutcome, verify_key
from app.logs import apply_level
from app.metrics.database import FleetCollector
from app.metrics.process import ProcessMetrics
from app.metrics.server import MetricsServer
from app.migrate import apply_migrations, require_current_schema
from app.notifications.delivery import Deliverer
from app.playbooks import open_directory
from app.retention import Pruner
from app.runner.config import runner_config
from app.runtime_settings import LiveSettings, SettingsWatcher
from app.schedule_ticker import ScheduleTicker
from app.settings import Settings
from app.sse.broker import Broker, ThreadSafeNotifier
from app.sse.listen import PostgresListener
from app.vault import Vault
from app.workers.pool import WorkerPool

log = logging.getLogger(__name__)


class InProcess:
    """The in-process transport of job events: this process's streams (on the event loop: None without the
    API), and its workers, which a cancel concerns."""

    def __init__(self, notifier: ThreadSafeNotifier | None, poke_workers: Callable[[], None]) -> None:
        self._notifier = notifier
        self._poke_workers = poke_workers

    def output(self, job_id: str, chunks: Sequence[StoredChunk]) -> None:
        # The chunks themselves: a stream of this process sends them without reading the database.
        if self._notifier is not None:
            self._notifier.output(job_id, chunks)

    def changed(self, job_ids: Sequence[str]) -> None:
        if self._notifier is not None:
            for job_id in job_ids:
                self._notifier.changed(job_id)

    def cancel_requested(self, job_id: str) -> None:
        self.changed([job_id])
        self._poke_workers()


@dataclass
class Runtime:
    settings: Settings
    database: Database
    vault: Vault
    workers: WorkerPool | None = None
    broker: Broker = field(default_factory=Broker)
    listener: PostgresListener | None = None
    metrics: ProcessMetrics = field(default_factory=ProcessMetrics)
    metrics_server: MetricsServer | None = None
    pruner: Pruner | None = None
    deliverer: Deliverer | None = None
    listing_totals: ListingTotals = field(default_factory=ListingTotals)
    live_keys: LiveKeys = field(default_factory=LiveKeys)
    # Told by the queue's write functions that a job changed (app/jobqueue/announce.py); set at start.
    events: JobEvents = NO_EVENTS
    # Names this process in its NOTIFY payloads: its own listener drops them (it heard of them first-hand).
    origin: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    # The settings an administrator may change while the service runs (app/runtime_settings.py), from memory.
    live_settings: LiveSettings = field(init=False)
    settings_watcher: SettingsWatcher | None = None
    schedule_ticker: ScheduleTicker | None = None

    def __post_init__(self) -> None:
        self.live_settings = LiveSettings(self.settings)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start what runs beside the API: job workers, and the PostgreSQL listener that wakes streams."""
        self.metrics.set_role("serve" if self.settings.workers > 0 else "api")
        self._watch_settings()
        # Only API nodes report the database's figures: a worker process reporting them too would count
        # them once more for every worker process scraped.
        self.metrics.registry.register(FleetCollector(self.database))
        self.metrics.watch_sse_clients(self.broker.subscriber_count)
        self._start(ThreadSafeNotifier(loop, self.broker))

    def start_workers_only(self) -> None:
        """For `newremora worker`: workers (and the listener that brings them cancels), no API; /metrics on
        a port of its own when NEWREMORA_METRICS_PORT is set."""
        self.metrics.set_role("worker")
        self._watch_settings()
        if self.settings.metrics_port:
            self.metrics_server = MetricsServer(
                self.metrics, self.settings.host, self.settings.metrics_port, self.settings.metrics_token
            )
            self.metrics_server.start()
        self._start(None)

    def _prune(self) -> None:
        # Every process (API nodes too: with `serve --no-workers` and no worker, the audit trail is still pruned);
        # on PostgreSQL one at a time, the others skip their pass (app/retention.py).
        def days_of(setting: str) -> int:
            return int(self.live_settings.value(setting))

        self.pruner = Pruner(self.database, days_of)
        self.pruner.start()

    def _watch_settings(self) -> None:
        def applied(name: str, value: object) -> None:
            if name == "log_level":
                apply_level(str(value))
                # Said at the new level itself: the line shows only where the level took effect.
                log.log(logging.getLevelNamesMapping()[str(value).upper()], "log level %s in effect", value)

        self.live_settings.on_change(applied)
        self.settings_watcher = SettingsWatcher(self.database, self.live_settings)
        self.settings_watcher.start()

    def _start(self, notifier: ThreadSafeNotifier | None) -> None:
        self._prune()
        in_process = InProcess(notifier, self.poke_workers)
        self.events = FanOut(in_process, NotifyOthers(self.origin)) if self.database.is_postgresql else in_process
        if self.settings.workers > 0:
            self.workers = WorkerPool(self.settings, self.database, self.vault, self.events, self.metrics)
        else:
            self.metrics.watch_workers(lambda: 0, lambda: 0, lambda: 0)
        if self.database.is_postgresql:
            # What other processes changed.

            def on_output(job_id: str, seq: int) -> None:
                if notifier is not None:
                    notifier.output_seq(job_id, seq)

            def on_status(job_id: str) -> None:
                if notifier is not None:
                    notifier.changed(job_id)
                if self.workers is not None:
                    self.workers.poke()  # maybe a cancel for a job of ours

            self.listener = PostgresListener(self.database.url, self.origin, on_output, on_status)
            self.listener.start()
        if self.workers is not None:
            self.workers.start()
            # Notifications are delivered where jobs run: an API-only node leaves them to its worker processes.
            self.deliverer = Deliverer(self.settings, self.database, self.vault)
            self.deliverer.start()
            # Schedules fire where workers run (serve and worker): the claim makes each tick fire once in all.
            self.schedule_ticker = ScheduleTicker(
                self.database, self.vault, lambda: self.live_settings.max_job_timeout, self.wake_workers
            )
            self.schedule_ticker.start()

    def wake_workers(self) -> None:
        if self.workers is not None:
            self.workers.wake()

    def poke_workers(self) -> None:
        if self.workers is not None:
            self.workers.poke()

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """SQLite (the embedded default) is migrated at start; PostgreSQL by `newremora migrate`. Refuses a key
        that is not the deployment's (app/keycheck.py)."""
        private_dir(settings.data_dir)  # before the key file, the database and the runs dir go in it
        vault = Vault.from_settings(settings)
        runner_config(settings)  # refuse a control socket directory that ssh could not use
        open_directory(settings.playbook_dir)  # a configured playbook directory must exist
        database = Database(settings.effective_database_url, threads=settings.db_threads)
        try:
            with database.connection():
                if not database.is_postgresql:
                    applied = apply_migrations(database.peewee)
                    if applied:
                        log.info("applied migrations: %s", ", ".join(applied))
                require_current_schema(database.peewee)
                # Before anything is encrypted or decrypted: a process with another key stops here, with one line.
                checked = verify_key(vault)
                if checked is not KeyCheckOutcome.VERIFIED:
                    log.info("key check value %s", checked.value)
        except BaseException:
            database.close()
            raise
        return cls(settings=settings, database=database, vault=vault)

    def close(self) -> None:
        if self.schedule_ticker is not None:
            self.schedule_ticker.stop()
        if self.settings_watcher is not None:
            self.settings_watcher.stop()
        if self.pruner is not None:
            self.pruner.stop()
        if self.metrics_server is not None:
            self.metrics_server.stop()
        if self.deliverer is not None:
            self.deliverer.stop()
        if self.workers is not None:
            self.workers.stop()
        if self.listener is not None:
            self.listener.stop()
        self.database.close()
