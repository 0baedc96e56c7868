"""job.contact_lost_at, job.reattach_at: a running job whose target stopped answering is re-attached until the
reconnect grace period ends (app/jobqueue/transitions.py, lose_contact). The new status 'starting' needs no
change: status is a CharField."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

from app.fields import UtcDateTimeField


def apply(database: pw.Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(
        migrator.add_column("job", "contact_lost_at", UtcDateTimeField(null=True)),
        migrator.add_column("job", "reattach_at", UtcDateTimeField(null=True)),
    )
