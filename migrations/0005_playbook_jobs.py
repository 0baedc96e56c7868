"""Playbook jobs: job.playbook (a file name in the playbook directory) and job.extra_vars (JSON text).

Guarded so that it can meet a schema where another migration already added a column of the same name.
"""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

NEW_COLUMNS = {
    "playbook": pw.CharField(max_length=255, null=True),
    "extra_vars": pw.TextField(null=True),
}


def apply(database: pw.Database) -> None:
    present = {column.name for column in database.get_columns("job")}
    migrator = SchemaMigrator.from_database(database)
    operations = [migrator.add_column("job", name, field) for name, field in NEW_COLUMNS.items() if name not in present]
    if operations:
        migrate(*operations)
