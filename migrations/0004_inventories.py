"""Credentials, groups (nested) and group memberships; servers reference a credential and carry become
settings and a Python interpreter; jobs carry become overrides."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

from app.fields import IdField, UtcDateTimeField


def apply(database: pw.Database) -> None:
    class Frozen(pw.Model):
        class Meta:
            legacy_table_names = False

    class Credential(Frozen):
        id = IdField(primary_key=True)
        name = pw.CharField(max_length=100, unique=True)
        description = pw.TextField(null=True)
        password_enc = pw.TextField(null=True)
        private_key_enc = pw.TextField(null=True)
        passphrase_enc = pw.TextField(null=True)
        become_password_enc = pw.TextField(null=True)
        created_at = UtcDateTimeField()
        updated_at = UtcDateTimeField()

    class Server(Frozen):
        id = IdField(primary_key=True)

    class Group(Frozen):
        id = IdField(primary_key=True)
        name = pw.CharField(max_length=100, unique=True)
        created_at = UtcDateTimeField()

    class GroupChild(Frozen):
        parent = pw.ForeignKeyField(Group, on_delete="CASCADE")
        child = pw.ForeignKeyField(Group, on_delete="CASCADE")

        class Meta:
            primary_key = pw.CompositeKey("parent", "child")

    class ServerGroup(Frozen):
        server = pw.ForeignKeyField(Server, on_delete="CASCADE")
        group = pw.ForeignKeyField(Group, on_delete="CASCADE")

        class Meta:
            primary_key = pw.CompositeKey("server", "group")

    created = [Credential, Group, GroupChild, ServerGroup]
    with database.bind_ctx([*created, Server]):
        database.create_tables(created, safe=False)

    migrator = SchemaMigrator.from_database(database)
    credential = pw.ForeignKeyField(Credential, null=True, field=Credential.id, on_delete="RESTRICT")
    migrate(
        migrator.add_column("server", "credential_id", credential),
        migrator.add_column("server", "become", pw.BooleanField(default=False)),
        migrator.add_column("server", "become_user", pw.CharField(max_length=32, null=True)),
        migrator.add_column("server", "become_password_enc", pw.TextField(null=True)),
        migrator.add_column("server", "python_interpreter", pw.CharField(max_length=255, null=True)),
        migrator.add_column("job", "become", pw.BooleanField(null=True)),
        migrator.add_column("job", "become_user", pw.CharField(max_length=32, null=True)),
        migrator.add_column("job", "become_password_enc", pw.TextField(null=True)),
    )
