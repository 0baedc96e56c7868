"""What the end-to-end tests share: a fresh, migrated PostgreSQL database and the settings of its nodes, the
services a test starts, and a gate directory a job can wait in."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, sync_playwright

from tests.harness.postgres import PostgresCluster
from tests.harness.service import NEWREMORA, Service

# Debian's Chromium (installed by tests/harness/install-system-deps.sh), headless, talking to loopback only.
CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run tests/harness/install-system-deps.sh", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """Services a test starts (append them): all stopped at the end, with everything they started."""
    started: list[Service] = []
    yield started
    for service in started:
        service.stop()


@pytest.fixture
def gate() -> Iterator[Path]:
    """A directory the target user can read: a job waits there for a file the test makes."""
    path = Path(tempfile.mkdtemp(prefix="nr-gate-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def pg_env(tmp_path: Path, pg_cluster: PostgresCluster, control_root: Path) -> Iterator[dict[str, str]]:
    """NEWREMORA_* settings every node of one test shares: a new database (migrated with `newremora migrate`,
    as an operator would), one secret key, and no rate limits (tests submit from one address)."""
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    pg_cluster.create_database(name)
    env = {
        "NEWREMORA_DATABASE_URL": pg_cluster.url(name),
        "NEWREMORA_SECRET_KEY": Fernet.generate_key().decode(),
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_JOB_RATE_LIMIT": "0",
    }
    migrate = subprocess.run(
        [NEWREMORA, "migrate"], env={**os.environ, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert migrate.returncode == 0, migrate.stderr
    yield env
    pg_cluster.drop_database(name)
