"""The resources one running service owns, opened together and closed together."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.db import Database
from app.migrate import apply_migrations, require_current_schema
from app.secrets import Vault
from app.settings import Settings
from app.worker import JobChanged, WorkerPool, runner_config

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    database: Database
    vault: Vault
    workers: WorkerPool | None = None

    def start_workers(self, on_change: JobChanged | None = None) -> None:
        if self.settings.workers > 0:
            self.workers = WorkerPool(self.settings, self.database, self.vault, on_change)
            self.workers.start()

    def wake_workers(self) -> None:
        if self.workers is not None:
            self.workers.wake()

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        """SQLite (the embedded default) is migrated at start; PostgreSQL by `newremora migrate`."""
        vault = Vault.from_settings(settings)
        runner_config(settings)  # refuse a control socket directory that ssh could not use
        database = Database(settings.effective_database_url, threads=settings.db_threads)
        try:
            with database.connection():
                if not database.is_postgresql:
                    applied = apply_migrations(database.peewee)
                    if applied:
                        log.info("applied migrations: %s", ", ".join(applied))
                require_current_schema(database.peewee)
        except BaseException:
            database.close()
            raise
        return cls(settings=settings, database=database, vault=vault)

    def close(self) -> None:
        if self.workers is not None:
            self.workers.stop()
        self.database.close()
