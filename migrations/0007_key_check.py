"""key_check: the deployment's key check value, so that a process with another key refuses to start.

No row is written here: migrating needs no key. The first process that opens the database with its key writes
it (app/keycheck.py), after checking that key against the secrets already stored, if any.
"""

from __future__ import annotations

import peewee as pw

from app.fields import UtcDateTimeField


def apply(database: pw.Database) -> None:
    class KeyCheck(pw.Model):
        id = pw.IntegerField(primary_key=True)
        token = pw.TextField()
        updated_at = UtcDateTimeField()

        class Meta:
            legacy_table_names = False

    with database.bind_ctx([KeyCheck]):
        database.create_tables([KeyCheck], safe=False)
