"""Job templates (app/templates.py): tables job_template and job_template_version, and on job the template it was
launched from (no foreign key: deleting a template never blocks or changes its past jobs), its version, the values
it was launched with (secrets redacted) and its secret values, encrypted until it ends."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

from app.fields import IdField, UtcDateTimeField


def apply(database: pw.Database) -> None:
    class JobTemplate(pw.Model):
        id = IdField(primary_key=True)
        name = pw.CharField(max_length=100, unique=True)
        version = pw.IntegerField()
        definition = pw.TextField()
        created_at = UtcDateTimeField()
        created_by = pw.CharField(max_length=255, null=True)
        updated_at = UtcDateTimeField()
        updated_by = pw.CharField(max_length=255, null=True)

        class Meta:
            legacy_table_names = False

    class JobTemplateVersion(pw.Model):
        id = pw.BigAutoField()
        template = pw.ForeignKeyField(JobTemplate, on_delete="CASCADE")
        version = pw.IntegerField()
        definition = pw.TextField()
        created_at = UtcDateTimeField()
        created_by = pw.CharField(max_length=255, null=True)

        class Meta:
            legacy_table_names = False
            indexes = ((("template", "version"), True),)

    with database.bind_ctx([JobTemplate, JobTemplateVersion]):
        database.create_tables([JobTemplate, JobTemplateVersion], safe=False)
    migrator = SchemaMigrator.from_database(database)
    migrate(
        migrator.add_column("job", "template_id", pw.CharField(max_length=36, null=True)),
        migrator.add_column("job", "template_version", pw.IntegerField(null=True)),
        migrator.add_column("job", "parameters", pw.TextField(null=True)),
        migrator.add_column("job", "secret_parameters_enc", pw.TextField(null=True)),
    )
