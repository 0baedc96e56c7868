"""job.output_pruned_at, and the index that finds the jobs whose output retention has passed (app/retention.py).

(output_pruned_at, finished_at): the output pruner asks for ``output_pruned_at IS NULL AND finished_at < cutoff``;
with finished_at alone it would walk every old job again at each pass, also those pruned long ago. Jobs are
deleted by finished_at, which has its index since 0001. Numbered 0019 while 0015-0018 land on other branches
(app/migrate.py applies by name).
"""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

from app.fields import UtcDateTimeField


def apply(database: pw.Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(
        migrator.add_column("job", "output_pruned_at", UtcDateTimeField(null=True)),
        migrator.add_index("job", ("output_pruned_at", "finished_at"), False),
    )
