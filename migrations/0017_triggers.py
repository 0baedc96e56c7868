"""Signed triggers (app/triggers.py): table trigger (a template's webhook: its secret encrypted, its parameter
mapping, its rate limit, who last saved it and that grant's own scope) and table trigger_delivery (the replay
store: one row per accepted request, the digests of its signature and of its delivery id UNIQUE, pruned once its
timestamp can no longer be accepted). Numbered 0017 while 0016 lands on another branch (app/migrate.py applies by
name, in order: job_template of 0015 exists by then)."""

from __future__ import annotations

import peewee as pw

from app.fields import IdField, UtcDateTimeField


def apply(database: pw.Database) -> None:
    class JobTemplate(pw.Model):
        id = IdField(primary_key=True)

        class Meta:
            table_name = "job_template"

    class Trigger(pw.Model):
        id = IdField(primary_key=True)
        template = pw.ForeignKeyField(JobTemplate, on_delete="CASCADE")
        name = pw.CharField(max_length=100)
        secret_enc = pw.TextField()
        enabled = pw.BooleanField()
        mapping = pw.TextField()
        rate_limit = pw.IntegerField()
        created_at = UtcDateTimeField()
        created_by = pw.CharField(max_length=255)
        rotated_at = UtcDateTimeField(null=True)
        last_used_at = UtcDateTimeField(null=True)
        owner_user_id = pw.CharField(max_length=36, null=True)
        grant_scope = pw.TextField(null=True)

        class Meta:
            legacy_table_names = False

    class TriggerDelivery(pw.Model):
        id = pw.BigAutoField()
        trigger = pw.ForeignKeyField(Trigger, on_delete="CASCADE")
        digest = pw.CharField(max_length=64, unique=True)
        delivery_digest = pw.CharField(max_length=64, unique=True, null=True)
        received_at = UtcDateTimeField()
        expires_at = UtcDateTimeField()

        class Meta:
            legacy_table_names = False
            indexes = ((("trigger", "received_at"), False), (("expires_at",), False))

    with database.bind_ctx([JobTemplate, Trigger, TriggerDelivery]):
        database.create_tables([Trigger, TriggerDelivery], safe=False)
