"""pytest plugin exposing the SSH and PostgreSQL harness as fixtures.

Loaded from tests/conftest.py via ``pytest_plugins``. Missing system
packages make the tests fail (not skip): a silently skipped integration
suite looks exactly like a passing one.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from typing import Protocol

import pytest

from tests.harness.postgres import PostgresCluster, PostgresStartError, binaries_available
from tests.harness.sshd import (
    Sshd,
    SshTarget,
    SudoRights,
    TestUser,
    ensure_test_user,
    grant_sudo,
    remove_test_user,
    require_binaries,
    revoke_sudo,
)

INSTALL_HINT = "run tests/harness/install-system-deps.sh as root"


class SshdFactory(Protocol):
    def __call__(self, max_sessions: int | None = None) -> Sshd: ...


def _require_ssh() -> None:
    try:
        require_binaries()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def ssh_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestUser]:
    """A throwaway OS user of this session only, so that concurrent test runs never share one."""
    _require_ssh()
    user = ensure_test_user(tmp_path_factory.mktemp("ssh-user"), name=f"nrt{secrets.token_hex(4)}")
    try:
        yield user
    finally:
        remove_test_user(user)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory, ssh_user: TestUser) -> Iterator[SshTarget]:
    server = Sshd.start(tmp_path_factory.mktemp("sshd"), ssh_user)
    try:
        yield server.target
    finally:
        server.stop()


@pytest.fixture
def sudo_rights(ssh_user: TestUser) -> Iterator[SudoRights]:
    """The test user may become a second throwaway user through sudo (its own password); undone afterwards."""
    if shutil.which("sudo") is None or shutil.which("visudo") is None:
        pytest.fail(f"sudo is not installed: {INSTALL_HINT}", pytrace=False)
    rights = grant_sudo(ssh_user, become_user=f"nrb{secrets.token_hex(4)}")
    try:
        yield rights
    finally:
        revoke_sudo(rights)


@pytest.fixture
def sshd_factory(tmp_path_factory: pytest.TempPathFactory, ssh_user: TestUser) -> Iterator[SshdFactory]:
    """Extra servers for tests that restart or misconfigure them."""
    servers: list[Sshd] = []

    def start(max_sessions: int | None = None) -> Sshd:
        server = Sshd.start(tmp_path_factory.mktemp("sshd-extra"), ssh_user, max_sessions=max_sessions)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    if not binaries_available():
        pytest.fail(f"PostgreSQL 15 server binaries not found: {INSTALL_HINT}", pytrace=False)
    try:
        cluster = PostgresCluster.start(tmp_path_factory.mktemp("postgres"))
    except PostgresStartError as exc:
        pytest.fail(f"could not start PostgreSQL:\n{exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()
