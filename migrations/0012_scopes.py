"""Scopes (app/scopes.py): app_user.scope and api_key.scope, nullable JSON text of group and server ids. Null,
as every existing user and key gets, is unlimited: nothing changes for them."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate


def apply(database: pw.Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(
        migrator.add_column("app_user", "scope", pw.TextField(null=True)),
        migrator.add_column("api_key", "scope", pw.TextField(null=True)),
    )
