"""A write SQLite refuses because the disk is full is one clear error, not "cannot rollback".

``PRAGMA max_page_count`` makes SQLite answer SQLITE_FULL as a full disk does, without a filesystem to fill (the
real one is tests/e2e/test_disk_full.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.db import Database
from app.errors import DatabaseUnwritable


def test_a_refused_commit_is_database_unwritable_not_a_failed_rollback(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'full.db'}", threads=1)
    try:
        database.call(lambda: database.peewee.execute_sql("CREATE TABLE t (x TEXT)"))
        pages = database.call(lambda: database.peewee.execute_sql("PRAGMA page_count").fetchone()[0])

        def write() -> None:
            database.peewee.execute_sql(f"PRAGMA max_page_count = {pages}")
            with database.peewee.atomic():
                database.peewee.execute_sql("INSERT INTO t VALUES (?)", ("x" * 100_000,))

        with pytest.raises(DatabaseUnwritable) as refused:
            database.call(write)
        causes = []
        error: BaseException | None = refused.value
        while error is not None:
            causes.append(str(error))
            error = error.__cause__ or error.__context__
        assert not any("cannot rollback" in cause for cause in causes), causes
        assert "no space left on device" in refused.value.message
        # The connection is usable afterwards.
        assert database.call(lambda: database.peewee.execute_sql("SELECT count(*) FROM t").fetchone()[0]) == 0
    finally:
        database.close()
