"""Shared fixtures: the app on SQLite and on PostgreSQL, with the real services of tests/harness."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import peewee as pw
import pytest
from cryptography.fernet import Fernet
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app import create_app
from app.db import connect_url
from app.migrate import apply_migrations
from app.settings import Secret, Settings
from tests.harness.postgres import PostgresCluster

pytest_plugins = ["tests.harness.fixtures"]

TEMPLATE_DB = "newremora_template"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        default=None,
        metavar="DIR",
        help="where the browser tests save their screenshots (make screenshots: docs/screenshots)",
    )


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PostgresCluster) -> str:
    """A migrated database that each test clones (CREATE DATABASE ... TEMPLATE is much faster than migrating)."""
    pg_cluster.create_database(TEMPLATE_DB)
    database = connect_url(pg_cluster.url(TEMPLATE_DB), max_connections=1)
    with database.connection_context():
        apply_migrations(database)
    database.close_all()
    return TEMPLATE_DB


@pytest.fixture(params=["sqlite", "postgresql"])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(db_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'newremora.db'}"
        return
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    template: str = request.getfixturevalue("pg_template")
    name = f"t_{uuid.uuid4().hex[:16]}"
    cluster.create_database(name, template=template)
    yield cluster.url(name)
    cluster.drop_database(name)


@pytest.fixture
def worker_threads() -> int:
    """Job worker threads of the app under test: none, unless a test module overrides this fixture."""
    return 0


@pytest.fixture(scope="session")
def control_root() -> Iterator[Path]:
    """Where each service of the session gets a directory of SSH control sockets of its own: short (a socket's
    path has at most 107 bytes, so not under pytest's tmp_path), and removed with the session."""
    root = Path(tempfile.mkdtemp(prefix="nrcp-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Extra settings for one test: ``@pytest.mark.parametrize("settings_overrides", [{...}])``."""
    return {}


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, worker_threads: int, settings_overrides: dict[str, Any], control_root: Path
) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        secret_key=Secret(Fernet.generate_key().decode()),
        db_threads=4,
        workers=worker_threads,
        # Tests make many requests from one address; the limits have tests of their own.
        rate_limit=0,
        job_rate_limit=0,
        # Sockets of this test's SSH masters only: nothing cached by another test can be reused.
        control_dir=Path(tempfile.mkdtemp(dir=control_root)),
    ).replace(**settings_overrides)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    quart_app = create_app(settings)
    async with quart_app.test_app() as test_app:
        yield test_app.app  # type: ignore[attr-defined]


@pytest.fixture
def client(app: Quart) -> Client:
    return app.test_client()


@pytest.fixture
def raw_db(settings: Settings) -> Iterator[pw.Database]:
    """A separate connection to the app's database, for checks that must not go through the API."""
    database = connect_url(settings.effective_database_url, max_connections=2)
    with database.connection_context():
        yield database
    database.close_all()
