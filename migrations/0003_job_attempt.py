"""job.attempt: how many times a job was claimed (1 at start, +1 per re-attach)."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate


def apply(database: pw.Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(migrator.add_column("job", "attempt", pw.IntegerField(default=0)))
