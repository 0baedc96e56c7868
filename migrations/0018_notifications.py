"""Notifications (app/notifications/): targets, the durable outbox of events to deliver (one row per event and
target, its idempotency key unique), and each delivery attempt. Numbered 0018 while 0015-0017 and 0019 land on other
branches (app/migrate.py applies by name)."""

from __future__ import annotations

import peewee as pw

from app.fields import IdField, UtcDateTimeField


def apply(database: pw.Database) -> None:
    class NotificationTarget(pw.Model):
        id = IdField(primary_key=True)
        name = pw.CharField(max_length=100, unique=True)
        url = pw.CharField(max_length=2000)
        secret_enc = pw.TextField()
        events = pw.TextField()
        template_id = pw.CharField(max_length=36, null=True)
        format = pw.CharField(max_length=8)
        enabled = pw.BooleanField()
        created_at = UtcDateTimeField()
        created_by = pw.CharField(max_length=255, null=True)
        updated_at = UtcDateTimeField()

        class Meta:
            legacy_table_names = False

    class Notification(pw.Model):
        id = IdField(primary_key=True)
        target = pw.ForeignKeyField(NotificationTarget, on_delete="CASCADE")
        event = pw.CharField(max_length=32)
        subject_id = pw.CharField(max_length=36)
        idempotency_key = pw.CharField(max_length=36, unique=True)
        payload = pw.TextField()
        state = pw.CharField(max_length=16)
        attempts = pw.IntegerField()
        next_attempt_at = UtcDateTimeField()
        lease_until = UtcDateTimeField(null=True)
        leased_by = pw.CharField(max_length=36, null=True)
        created_at = UtcDateTimeField()
        delivered_at = UtcDateTimeField(null=True)
        last_status = pw.IntegerField(null=True)
        last_error = pw.TextField(null=True)

        class Meta:
            legacy_table_names = False
            indexes = (
                (("state", "next_attempt_at"), False),
                (("target", "created_at"), False),
                (("created_at",), False),
            )

    class NotificationAttempt(pw.Model):
        id = pw.BigAutoField()
        notification = pw.ForeignKeyField(Notification, on_delete="CASCADE")
        number = pw.IntegerField()
        at = UtcDateTimeField()
        duration_ms = pw.IntegerField()
        status = pw.IntegerField(null=True)
        error = pw.TextField(null=True)

        class Meta:
            legacy_table_names = False
            indexes = ((("notification", "number"), False),)

    tables = [NotificationTarget, Notification, NotificationAttempt]
    with database.bind_ctx(tables):
        database.create_tables(tables, safe=False)
