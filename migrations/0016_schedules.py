"""Schedules (app/schedules.py): table schedule, a template launched on a cron expression in a time zone, and
table schedule_run, one row per tick that was claimed (UNIQUE schedule and due time: a tick fires once however many
processes share the database)."""

from __future__ import annotations

import peewee as pw

from app.fields import IdField, UtcDateTimeField


def apply(database: pw.Database) -> None:
    class Schedule(pw.Model):
        id = IdField(primary_key=True)
        name = pw.CharField(max_length=100, unique=True)
        template_id = pw.CharField(max_length=36, index=True)
        parameters = pw.TextField()
        secret_parameters_enc = pw.TextField(null=True)
        cron = pw.CharField(max_length=120)
        timezone = pw.CharField(max_length=64)
        enabled = pw.BooleanField()
        overlap = pw.CharField(max_length=8)
        missed = pw.CharField(max_length=8)
        next_run_at = UtcDateTimeField(null=True, index=True)
        owner_user_id = pw.CharField(max_length=36, null=True)
        grant_scope = pw.TextField(null=True)
        created_at = UtcDateTimeField()
        created_by = pw.CharField(max_length=255, null=True)
        updated_at = UtcDateTimeField()
        updated_by = pw.CharField(max_length=255, null=True)

        class Meta:
            legacy_table_names = False

    class ScheduleRun(pw.Model):
        id = pw.BigAutoField()
        schedule_id = pw.CharField(max_length=36)
        due_at = UtcDateTimeField()
        fired_at = UtcDateTimeField()
        outcome = pw.CharField(max_length=16)
        message = pw.TextField(null=True)
        job_id = pw.CharField(max_length=36, null=True)
        batch_id = pw.CharField(max_length=36, null=True)
        job_count = pw.IntegerField()

        class Meta:
            legacy_table_names = False
            indexes = ((("schedule_id", "due_at"), True),)

    with database.bind_ctx([Schedule, ScheduleRun]):
        database.create_tables([Schedule, ScheduleRun], safe=False)
