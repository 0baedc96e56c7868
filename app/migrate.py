"""Applies the numbered migrations of the ``migrations`` package, once each, in one locked transaction."""

from __future__ import annotations

import importlib
import importlib.resources
import logging
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Final

import peewee as pw

from app.clock import utcnow
from app.db import is_postgresql
from app.errors import ConfigurationError

log = logging.getLogger(__name__)

MIGRATION_FILE: Final = re.compile(r"^(\d{4})_\w+\.py$")
# Any constant works; it only has to be the same in every process that migrates this database.
ADVISORY_LOCK_KEY: Final = 0x4E52_4D47


@dataclass(frozen=True)
class Migration:
    name: str
    module: ModuleType


def available_migrations() -> list[Migration]:
    names = sorted(
        entry.name.removesuffix(".py")
        for entry in importlib.resources.files("migrations").iterdir()
        if MIGRATION_FILE.match(entry.name)
    )
    return [Migration(name, importlib.import_module(f"migrations.{name}")) for name in names]


def _ensure_history_table(database: pw.Database) -> None:
    database.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR(255) PRIMARY KEY, applied_at VARCHAR(40) NOT NULL)"
    )


def applied_migrations(database: pw.Database) -> set[str]:
    if "schema_migrations" not in database.get_tables():
        return set()
    return {row[0] for row in database.execute_sql("SELECT name FROM schema_migrations").fetchall()}


def pending_migrations(database: pw.Database) -> list[Migration]:
    done = applied_migrations(database)
    return [m for m in available_migrations() if m.name not in done]


def apply_migrations(database: pw.Database) -> list[str]:
    """Apply what is pending; safe when several processes start at once (they serialise on a lock)."""
    migrations = available_migrations()
    # SQLite transactions begin IMMEDIATE (app/db.py), so two processes cannot both see a migration pending;
    # PostgreSQL serialises on an advisory lock taken first thing in the transaction.
    applied: list[str] = []
    with database.atomic():
        if is_postgresql(database):
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
        _ensure_history_table(database)
        done = applied_migrations(database)
        for migration in migrations:
            if migration.name in done:
                continue
            log.info("applying migration %s", migration.name)
            migration.module.apply(database)
            database.execute_sql(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (%s, %s)"
                if is_postgresql(database)
                else "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (migration.name, utcnow().isoformat()),
            )
            applied.append(migration.name)
    return applied


def require_current_schema(database: pw.Database) -> None:
    pending = pending_migrations(database)
    if pending:
        names = ", ".join(m.name for m in pending)
        raise ConfigurationError(f"the database schema is behind ({names} pending): run `newremora migrate`")
