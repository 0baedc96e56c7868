"""No secret reaches an API response, a log line, the database in clear, or a file in the data dir."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
from pathlib import Path

import pytest
from quart.typing import TestClientProtocol as Client

from app.settings import Settings
from tests.helpers import create_server, make_key, ok_data, password_server

PASSWORD = "pw-Zx81-never-shown"
PASSPHRASE = "pp-Qr55-never-shown"


def dump_database(settings: Settings, request: pytest.FixtureRequest) -> str:
    url = settings.effective_database_url
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            return "\n".join(connection.iterdump())
    cluster = request.getfixturevalue("pg_cluster")
    dbname = url.rsplit("/", 1)[1]
    result = subprocess.run(
        ["/usr/lib/postgresql/15/bin/pg_dump", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", dbname],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


async def test_secrets_never_leave_in_clear(
    client: Client,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = make_key(tmp_path, "locked", passphrase=PASSPHRASE)
    key_body = key.splitlines()[2]  # a line from the middle of the base64 body
    responses = []

    password_server_data = await create_server(client, password_server("srv-password", password=PASSWORD))
    key_server = await create_server(
        client, password_server("srv-key", auth_type="key", password=None, private_key=key, passphrase=PASSPHRASE)
    )
    responses.append(str(password_server_data))
    responses.append(str(key_server))
    responses.append(str(await ok_data(await client.get("/api/v1/servers"))))
    responses.append(
        str(await ok_data(await client.put(f"/api/v1/servers/{key_server['id']}", json={"password": PASSWORD})))
    )
    # A refused request must not echo the secret in its error either.
    refused = await client.post("/api/v1/servers", json=password_server("bad name", password=PASSWORD))
    responses.append(await refused.get_data(as_text=True))
    responses.append(await (await client.get("/openapi.json")).get_data(as_text=True))

    dump = dump_database(settings, request)
    assert "srv-password" in dump and "srv-key" in dump  # the dump is real: it holds the servers
    data_files = "".join(
        p.read_text(errors="replace") for p in settings.data_dir.rglob("*") if p.is_file() and p.suffix != ".key"
    )
    for secret in (PASSWORD, PASSPHRASE, key_body):
        for response in responses:
            assert secret not in response
        assert secret not in caplog.text
        assert secret not in dump
        assert secret not in data_files
