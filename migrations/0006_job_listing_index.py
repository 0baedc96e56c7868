"""job (status, created_at, id): a page of jobs filtered by status is read in order, not sorted.

Without it SQLite took the claiming index (status, priority, created_at) and sorted every job of the status to
return 20 of them: ~120 ms CPU per page at 100,000 jobs (bench/api_reads.py, docs/benchmarks.md).
"""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate


def apply(database: pw.Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(migrator.add_index("job", ("status", "created_at", "id"), False))
