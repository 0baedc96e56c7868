"""A throwaway PostgreSQL cluster for integration tests.

Uses the Debian server binaries (install with
tests/harness/install-system-deps.sh); never touches a system cluster.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from tests.harness.net import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
_PORT_ATTEMPTS = 5


class PostgresStartError(RuntimeError):
    pass


def binaries_available() -> bool:
    return all((PG_BIN / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres"))


class PostgresCluster:
    def __init__(self, base: Path, port: int) -> None:
        self.base = base
        self.data_dir = base / "data"
        self.log_path = base / "postgres.log"
        self.port = port
        self._running = False
        # Where the current server start begins in the (appended) log, so
        # error messages show this attempt only.
        self._log_offset = 0

    @classmethod
    def start(cls, workdir: Path) -> PostgresCluster:
        """Create and start a cluster; ``workdir`` is unused for the data.

        The data lives in a fresh dir under the system temp dir instead:
        initdb refuses to run as root, and the postgres user cannot traverse
        pytest's root-only tmp_path.
        """
        del workdir  # accepted for symmetry with Sshd.start
        if not binaries_available():
            raise PostgresStartError(
                f"PostgreSQL binaries missing in {PG_BIN}: run tests/harness/install-system-deps.sh as root"
            )
        base = Path(tempfile.mkdtemp(prefix="newremora-pg-"))
        cluster = cls(base, free_port())
        try:
            if os.geteuid() == 0:
                entry = pwd.getpwnam("postgres")
                os.chown(base, entry.pw_uid, entry.pw_gid)
            cluster._as_postgres(
                "initdb",
                f"--pgdata={cluster.data_dir}",
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                # Durability is pointless for a throwaway cluster.
                "--no-sync",
                "--no-instructions",
            )
            for attempt in range(_PORT_ATTEMPTS):
                try:
                    cluster.start_server()
                    return cluster
                except PostgresStartError:
                    if attempt == _PORT_ATTEMPTS - 1 or not cluster._port_collision():
                        raise
                    cluster.port = free_port()
        except BaseException:
            cluster.stop()
            raise
        raise AssertionError("unreachable")

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def execute(self, query: str | sql.Composable, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement in autocommit mode; returns its rows, if any."""
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, connect_timeout=10)
        try:
            # CREATE/DROP DATABASE cannot run inside a transaction block.
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(query)
                return list(cur.fetchall()) if cur.description is not None else []
        finally:
            conn.close()

    def create_database(self, name: str, template: str | None = None) -> None:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query = sql.SQL("{} TEMPLATE {}").format(query, sql.Identifier(template))
        self.execute(query)

    def drop_database(self, name: str) -> None:
        # FORCE terminates the database's sessions first (PostgreSQL >= 13),
        # so a leaked app connection cannot make teardown fail.
        self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def restart(self) -> None:
        """Stop and start again on the same port, keeping the data."""
        self.stop_server()
        self.start_server()

    def stop(self) -> None:
        try:
            self.stop_server()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def start_server(self) -> None:
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-p {self.port}",
                # Keep the socket away from /var/run/postgresql (may not
                # exist, may collide with a system cluster).
                f"-c unix_socket_directories={self.base}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        try:
            self._as_postgres("pg_ctl", *self._ctl_args(), f"--log={self.log_path}", f"--options={options}", "start")
        except PostgresStartError as exc:
            raise PostgresStartError(f"{exc}\n--- server log ---\n{self._log_tail()}") from None
        self._running = True

    def stop_server(self) -> None:
        if not self._running:
            return
        self._running = False
        try:
            self._as_postgres("pg_ctl", *self._ctl_args(), "--mode=fast", "stop")
        except PostgresStartError:
            # A wedged server must not survive the test session.
            self._as_postgres("pg_ctl", *self._ctl_args(), "--mode=immediate", "stop")

    def _ctl_args(self) -> list[str]:
        return ["--wait", "--timeout=30", f"--pgdata={self.data_dir}"]

    def _port_collision(self) -> bool:
        tail = self._log_tail()
        return "could not bind" in tail or "Address already in use" in tail

    def _log_tail(self, max_chars: int = 4000) -> str:
        try:
            with self.log_path.open(errors="replace") as log:
                log.seek(self._log_offset)
                return log.read()[-max_chars:]
        except FileNotFoundError:
            return "(no log written)"

    def _as_postgres(self, tool: str, *args: str) -> None:
        cmd = [str(PG_BIN / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        # cwd: the postgres user may not be able to enter the caller's cwd.
        result = subprocess.run(cmd, cwd=self.base, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise PostgresStartError(f"{tool} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
