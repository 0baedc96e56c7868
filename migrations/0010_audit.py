"""The audit trail (app/audit.py): table audit_event, append-only; job.submitted_by and job.canceled_by.

Numbered 0010 while 0009 (users and roles) lands on another branch: app/migrate.py applies each pending migration
by name, in order, so a database migrated to 0010 first takes 0009 at the next migrate."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

from app.fields import UtcDateTimeField


def apply(database: pw.Database) -> None:
    class AuditEvent(pw.Model):
        id = pw.BigAutoField()
        at = UtcDateTimeField()
        actor = pw.CharField(max_length=255)
        actor_kind = pw.CharField(max_length=16)
        key_id = pw.CharField(max_length=36, null=True)
        user_id = pw.CharField(max_length=36, null=True)
        action = pw.CharField(max_length=64)
        object_type = pw.CharField(max_length=32, null=True)
        object_id = pw.CharField(max_length=255, null=True)
        summary = pw.TextField(null=True)
        source = pw.CharField(max_length=64, null=True)
        request_id = pw.CharField(max_length=128, null=True)
        outcome = pw.CharField(max_length=16)
        status = pw.IntegerField(null=True)

        class Meta:
            legacy_table_names = False
            indexes = (
                (("at",), False),
                (("actor", "id"), False),
                (("action", "id"), False),
                (("object_type", "object_id", "id"), False),
                (("outcome", "id"), False),
            )

    with database.bind_ctx([AuditEvent]):
        database.create_tables([AuditEvent], safe=False)
    migrator = SchemaMigrator.from_database(database)
    migrate(
        migrator.add_column("job", "submitted_by", pw.CharField(max_length=255, null=True)),
        migrator.add_column("job", "canceled_by", pw.CharField(max_length=255, null=True)),
    )
