"""Single sign-on (app/oidc_users.py): app_user.source (local or oidc) and app_user.oidc_subject, the OpenID
Connect subject a user is linked to (unique; null for local users)."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate


def apply(database: pw.Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(
        migrator.add_column("app_user", "source", pw.CharField(max_length=8, default="local")),
        migrator.add_column("app_user", "oidc_subject", pw.CharField(max_length=255, null=True)),
        migrator.add_index("app_user", ("oidc_subject",), unique=True),
    )
