"""Settings changed at runtime (app/runtime_settings.py): table runtime_setting, one row per setting that overrides
its environment value. Numbered 0014 while 0011-0013 land on other branches (app/migrate.py applies by name)."""

from __future__ import annotations

import peewee as pw

from app.fields import UtcDateTimeField


def apply(database: pw.Database) -> None:
    class RuntimeSetting(pw.Model):
        name = pw.CharField(max_length=64, primary_key=True)
        value = pw.TextField()
        changed_at = UtcDateTimeField()
        changed_by = pw.CharField(max_length=255)

        class Meta:
            legacy_table_names = False

    with database.bind_ctx([RuntimeSetting]):
        database.create_tables([RuntimeSetting], safe=False)
