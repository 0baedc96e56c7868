"""Browser sign-in (app/sessions.py): table browser_session (the SHA-256 of each session's token, never the token)
and table signin_failure (refused sign-ins, counted per username and per address by every process alike)."""

from __future__ import annotations

import peewee as pw

from app.fields import IdField, UtcDateTimeField


def apply(database: pw.Database) -> None:
    class User(pw.Model):
        id = IdField(primary_key=True)

        class Meta:
            table_name = "app_user"

    class BrowserSession(pw.Model):
        id = IdField(primary_key=True)
        token_hash = pw.CharField(max_length=64, unique=True)
        user = pw.ForeignKeyField(User, on_delete="CASCADE")
        method = pw.CharField(max_length=8)
        created_at = UtcDateTimeField()
        last_seen_at = UtcDateTimeField()
        ended_at = UtcDateTimeField(null=True)
        source = pw.CharField(max_length=64, null=True)
        user_agent = pw.CharField(max_length=255, null=True)
        csrf_token = pw.CharField(max_length=64)

        class Meta:
            legacy_table_names = False

    class SigninFailure(pw.Model):
        id = pw.BigAutoField()
        at = UtcDateTimeField()
        username = pw.CharField(max_length=64)
        source = pw.CharField(max_length=64)

        class Meta:
            legacy_table_names = False
            indexes = ((("username", "at"), False), (("source", "at"), False), (("at",), False))

    with database.bind_ctx([User, BrowserSession, SigninFailure]):
        database.create_tables([BrowserSession, SigninFailure], safe=False)
