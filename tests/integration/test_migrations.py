"""Migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee as pw
import pytest

from app.db import connect_url
from app.errors import ConfigurationError
from app.migrate import apply_migrations, pending_migrations, require_current_schema
from app.models import ALL_MODELS
from tests.harness.postgres import PostgresCluster

ALL_MIGRATIONS = [
    "0001_initial",
    "0002_api_keys",
    "0003_job_attempt",
    "0004_inventories",
    "0005_playbook_jobs",
    "0006_job_listing_index",
    "0007_key_check",
    "0008_job_contact",
    "0009_users",
    "0010_audit",
    "0011_sessions",
    "0012_scopes",
    "0013_oidc",
    "0014_runtime_settings",
    "0015_templates",
    "0016_schedules",
    "0017_triggers",
    "0018_notifications",
    "0019_retention",
]


def schema_of(database: pw.Database) -> dict[str, Any]:
    """Tables with their columns, indexes and foreign keys, as the database itself reports them."""
    schema: dict[str, Any] = {}
    for table in sorted(set(database.get_tables()) - {"schema_migrations"}):
        columns = sorted((c.name, c.data_type.lower(), c.null, c.primary_key) for c in database.get_columns(table))
        indexes = sorted((tuple(i.columns), i.unique) for i in database.get_indexes(table))
        foreign_keys = sorted((f.column, f.dest_table, f.dest_column) for f in database.get_foreign_keys(table))
        schema[table] = {"columns": columns, "indexes": indexes, "foreign_keys": foreign_keys}
    return schema


@pytest.fixture
def empty_databases(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    if db_kind == "sqlite":
        urls = [f"sqlite:///{tmp_path / 'migrated.db'}", f"sqlite:///{tmp_path / 'models.db'}"]
        names: list[str] = []
    else:
        cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
        names = [f"m_{uuid.uuid4().hex[:12]}" for _ in range(2)]
        for name in names:
            cluster.create_database(name)
        urls = [cluster.url(name) for name in names]
    databases = [connect_url(url, max_connections=2) for url in urls]
    for database in databases:
        database.connect()
    yield databases[0], databases[1]
    for database in databases:
        database.close_all()
    if db_kind == "postgresql":
        for name in names:
            cluster.drop_database(name)


def test_migrating_an_empty_database_gives_the_models_schema(empty_databases: tuple[Any, Any]) -> None:
    migrated, from_models = empty_databases
    assert [m.name for m in pending_migrations(migrated)] == ALL_MIGRATIONS
    with pytest.raises(ConfigurationError, match="newremora migrate"):
        require_current_schema(migrated)

    assert apply_migrations(migrated) == ALL_MIGRATIONS
    with from_models.bind_ctx(ALL_MODELS):
        from_models.create_tables(ALL_MODELS)

    migrated_schema = schema_of(migrated)
    assert set(migrated_schema) == {
        "server",
        "pem_file",
        "worker",
        "job",
        "job_chunk",
        "api_key",
        "credential",
        "group",
        "group_child",
        "server_group",
        "key_check",
        "app_user",
        "audit_event",
        "browser_session",
        "signin_failure",
        "runtime_setting",
        "job_template",
        "job_template_version",
        "notification_target",
        "notification",
        "notification_attempt",
        "schedule",
        "schedule_run",
        "trigger",
        "trigger_delivery",
    }
    assert migrated_schema == schema_of(from_models)
    assert apply_migrations(migrated) == []  # idempotent
    require_current_schema(migrated)
