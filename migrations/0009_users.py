"""Users (app/users.py), and API keys that belong to them: api_key.user_id, .role (narrower than the owner's) and
.expires_at. Keys made before stay without an owner: administrator keys, as they were."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

from app.fields import IdField, UtcDateTimeField


def apply(database: pw.Database) -> None:
    class User(pw.Model):
        id = IdField(primary_key=True)
        username = pw.CharField(max_length=64, unique=True)
        display_name = pw.CharField(max_length=200, default="")
        email = pw.CharField(max_length=254, null=True)
        password_hash = pw.CharField(max_length=255, default="")
        role = pw.CharField(max_length=16)
        disabled_at = UtcDateTimeField(null=True)
        created_at = UtcDateTimeField()

        class Meta:
            table_name = "app_user"

    with database.bind_ctx([User]):
        database.create_tables([User], safe=False)
        migrator = SchemaMigrator.from_database(database)
        migrate(
            migrator.add_column(
                "api_key",
                "user_id",
                pw.ForeignKeyField(User, null=True, field=User.id, on_delete="RESTRICT"),
            ),
            migrator.add_column("api_key", "role", pw.CharField(max_length=16, null=True)),
            migrator.add_column("api_key", "expires_at", UtcDateTimeField(null=True)),
        )
