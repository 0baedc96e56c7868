"""Servers, uploaded keys, workers, jobs and job output chunks."""

from __future__ import annotations

import peewee as pw

from app.fields import IdField, UtcDateTimeField


def apply(database: pw.Database) -> None:
    class Frozen(pw.Model):
        class Meta:
            legacy_table_names = False

    class Server(Frozen):
        id = IdField(primary_key=True)
        name = pw.CharField(max_length=100, unique=True)
        hostname = pw.CharField(max_length=253)
        port = pw.IntegerField()
        user = pw.CharField(max_length=32)
        auth_type = pw.CharField(max_length=16)
        password_enc = pw.TextField(null=True)
        private_key_enc = pw.TextField(null=True)
        passphrase_enc = pw.TextField(null=True)
        pem_file_url = pw.CharField(max_length=200, null=True)
        is_active = pw.BooleanField()
        host_key = pw.TextField(null=True)
        last_status = pw.CharField(max_length=16, null=True)
        last_checked_at = UtcDateTimeField(null=True)
        last_response_ms = pw.IntegerField(null=True)
        last_message = pw.TextField(null=True)
        created_at = UtcDateTimeField()
        updated_at = UtcDateTimeField()

    class PemFile(Frozen):
        id = IdField(primary_key=True)
        filename = pw.CharField(max_length=255)
        size = pw.IntegerField()
        encrypted = pw.BooleanField()
        fingerprint = pw.CharField(max_length=100, null=True)
        key_enc = pw.TextField()
        uploaded_at = UtcDateTimeField()

    class Worker(Frozen):
        id = IdField(primary_key=True)
        hostname = pw.CharField(max_length=253)
        pid = pw.IntegerField()
        threads = pw.IntegerField()
        batch_size = pw.IntegerField()
        started_at = UtcDateTimeField()
        heartbeat_at = UtcDateTimeField()
        stopped_at = UtcDateTimeField(null=True)

    class Job(Frozen):
        id = IdField(primary_key=True)
        server = pw.ForeignKeyField(Server, on_delete="RESTRICT")
        kind = pw.CharField(max_length=16)
        command = pw.TextField(null=True)
        args = pw.TextField(null=True)
        script = pw.TextField(null=True)
        shell = pw.CharField(max_length=255, null=True)
        timeout = pw.IntegerField()
        priority = pw.IntegerField()
        status = pw.CharField(max_length=16)
        exit_code = pw.IntegerField(null=True)
        error = pw.TextField(null=True)
        failure_reason = pw.CharField(max_length=32, null=True)
        batch_id = pw.CharField(max_length=36, null=True)
        worker = pw.ForeignKeyField(Worker, null=True, on_delete="SET NULL")
        created_at = UtcDateTimeField()
        started_at = UtcDateTimeField(null=True)
        finished_at = UtcDateTimeField(null=True)
        cancel_requested_at = UtcDateTimeField(null=True)
        canceled_at = UtcDateTimeField(null=True)
        stdout_offset = pw.BigIntegerField()
        stderr_offset = pw.BigIntegerField()
        last_seq = pw.IntegerField()
        stored_bytes = pw.BigIntegerField()
        head_last_seq = pw.IntegerField(null=True)
        stdout_omitted = pw.BigIntegerField()
        stderr_omitted = pw.BigIntegerField()

        class Meta:
            indexes = (
                (("status", "priority", "created_at"), False),
                (("server", "created_at"), False),
                (("created_at",), False),
                (("started_at",), False),
                (("finished_at",), False),
                (("batch_id",), False),
            )

    class JobChunk(Frozen):
        id = pw.BigAutoField()
        job = pw.ForeignKeyField(Job, on_delete="CASCADE")
        seq = pw.IntegerField()
        stream = pw.CharField(max_length=6)
        data = pw.TextField()
        size = pw.IntegerField()
        at = UtcDateTimeField()

        class Meta:
            indexes = ((("job", "seq"), True),)

    models = [Server, PemFile, Worker, Job, JobChunk]
    with database.bind_ctx(models):
        database.create_tables(models, safe=False)
