"""API keys (hashed) for Bearer authentication."""

from __future__ import annotations

import peewee as pw

from app.fields import IdField, UtcDateTimeField


def apply(database: pw.Database) -> None:
    class ApiKey(pw.Model):
        id = IdField(primary_key=True)
        name = pw.CharField(max_length=100)
        prefix = pw.CharField(max_length=16)
        key_hash = pw.CharField(max_length=64, unique=True)
        created_at = UtcDateTimeField()
        last_used_at = UtcDateTimeField(null=True)
        revoked_at = UtcDateTimeField(null=True)

        class Meta:
            legacy_table_names = False

    with database.bind_ctx([ApiKey]):
        database.create_tables([ApiKey], safe=False)
