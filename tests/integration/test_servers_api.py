"""The Servers API of the reference, on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import peewee as pw
import pytest
from quart.typing import TestClientProtocol as Client
from werkzeug.datastructures import FileStorage

from app.clock import utcnow
from tests.helpers import create_server, error_of, make_key, ok_data, password_server


def upload(field: str, filename: str, content: bytes) -> dict[str, FileStorage]:
    return {field: FileStorage(io.BytesIO(content), filename=filename, content_type="application/x-pem-file")}


def count(raw_db: pw.Database, table: str) -> int:
    return int(raw_db.execute_sql(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def insert_job(raw_db: pw.Database, server_id: str, status: str = "queued") -> str:
    job_id = str(uuid.uuid4())
    param = "%s" if isinstance(raw_db, pw.PostgresqlDatabase) else "?"
    raw_db.execute_sql(
        "INSERT INTO job (id, server_id, kind, command, timeout, priority, status, created_at, stdout_offset, "
        "stderr_offset, last_seq, stored_bytes, stdout_omitted, stderr_omitted, attempt) "
        f"VALUES ({', '.join([param] * 15)})",
        (job_id, server_id, "command", "true", 300, 5, status, utcnow().replace(tzinfo=None), 0, 0, 1, 6, 0, 0, 0),
    )
    raw_db.execute_sql(
        f"INSERT INTO job_chunk (job_id, seq, stream, data, size, at) VALUES ({', '.join([param] * 6)})",
        (job_id, 1, "stdout", "hello\n", 6, utcnow().replace(tzinfo=None)),
    )
    return job_id


async def test_server_lifecycle(client: Client) -> None:
    created = await create_server(client, password_server("web-01"))
    assert created["name"] == "web-01"
    assert created["hostname"] == "127.0.0.1"
    assert created["port"] == 22
    assert created["user"] == "deploy"
    assert created["auth_type"] == "password"
    assert created["is_active"] is True
    assert created["has_password"] is True
    assert created["has_private_key"] is False
    assert "password" not in created
    uuid.UUID(created["id"], version=4)

    fetched = await ok_data(await client.get(f"/api/v1/servers/{created['id']}"))
    assert fetched == created

    await create_server(client, password_server("db-01", is_active=False, port=2222))
    listed = await ok_data(await client.get("/api/v1/servers"))
    assert [s["name"] for s in listed["servers"]] == ["db-01", "web-01"]
    active = await ok_data(await client.get("/api/v1/servers?active_only=true"))
    assert [s["name"] for s in active["servers"]] == ["web-01"]

    updated = await ok_data(
        await client.put(f"/api/v1/servers/{created['id']}", json={"name": "web-02", "port": 2200, "is_active": False})
    )
    assert (updated["name"], updated["port"], updated["is_active"]) == ("web-02", 2200, False)
    assert updated["hostname"] == "127.0.0.1" and updated["has_password"] is True
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] > created["updated_at"]

    deleted = await ok_data(await client.delete(f"/api/v1/servers/{created['id']}"))
    assert deleted == {"id": created["id"], "deleted": True, "deleted_jobs": 0}
    await error_of(await client.get(f"/api/v1/servers/{created['id']}"), 404)


BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"hostname": "h", "user": "u", "auth_type": "password", "password": "p"}, "name: is required"),
    (password_server(name="has space"), "name:"),
    (password_server(name="x" * 101), "name:"),
    (password_server(hostname="evil\nansible_connection=local"), "hostname:"),
    (password_server(hostname="a b"), "hostname:"),
    (password_server(hostname="-bad.example.com"), "hostname:"),
    (password_server(hostname=""), "hostname:"),
    (password_server(port=0), "port:"),
    (password_server(port=65536), "port:"),
    (password_server(port="22"), "port:"),
    (password_server(user="root;rm -rf /"), "user:"),
    (password_server(user="-oProxyCommand=x"), "user:"),
    (password_server(auth_type="kerberos"), "auth_type:"),
    (password_server(password=None), "password: required"),
    (password_server(password="line\nbreak"), "password:"),
    (password_server(auth_type="key", password=None), "private_key: required"),
    (password_server(auth_type="key", private_key="not a key"), "private key:"),
    (password_server(is_active="yes"), "is_active:"),
    (password_server(colour="blue"), "colour: is not a known field"),
    (password_server(pem_file_url="http://169.254.169.254/latest/meta-data", auth_type="key"), "pem_file_url:"),
    (password_server(pem_file_url="/etc/ssh/ssh_host_ed25519_key", auth_type="key"), "pem_file_url:"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
async def test_bad_server_bodies_are_refused_and_change_nothing(
    client: Client, raw_db: pw.Database, body: dict[str, Any], message: str
) -> None:
    error = await error_of(await client.post("/api/v1/servers", json=body), 400)
    assert message in error
    assert "correct horse" not in error
    assert count(raw_db, "server") == 0


async def test_malformed_requests_get_clear_400s(client: Client) -> None:
    not_json = await client.post("/api/v1/servers", data=b'{"name": "x"', headers={"Content-Type": "application/json"})
    assert "not valid JSON" in await error_of(not_json, 400)
    not_object = await client.post("/api/v1/servers", json=["a"])
    assert "must be a JSON object" in await error_of(not_object, 400)
    wrong_type = await client.post("/api/v1/servers", data=b"name=x", headers={"Content-Type": "text/plain"})
    assert "must be a JSON object" in await error_of(wrong_type, 400)
    bad_flag = await client.get("/api/v1/servers?active_only=maybe")
    assert "active_only" in await error_of(bad_flag, 400)
    unknown_param = await client.get("/api/v1/servers?activeonly=1")
    assert "activeonly" in await error_of(unknown_param, 400)


async def test_ids_that_are_not_uuids_are_404(client: Client) -> None:
    for path in ("/api/v1/servers/42", "/api/v1/servers/../../etc", f"/api/v1/servers/{uuid.uuid4()}"):
        assert await error_of(await client.get(path), 404) in ("Server not found", "Not found")
    assert await error_of(await client.put("/api/v1/servers/nope", json={"port": 23}), 404) == "Server not found"
    assert await error_of(await client.delete("/api/v1/servers/nope"), 404) == "Server not found"
    assert await error_of(await client.get("/api/v1/nothing-here"), 404) == "Not found"
    assert await error_of(await client.patch("/api/v1/servers"), 405) == "Method not allowed"


async def test_names_are_unique(client: Client, raw_db: pw.Database) -> None:
    first = await create_server(client, password_server("web-01"))
    second = await create_server(client, password_server("web-02"))
    assert "already exists" in await error_of(await client.post("/api/v1/servers", json=password_server("web-01")), 409)
    renamed = await client.put(f"/api/v1/servers/{second['id']}", json={"name": "web-01"})
    assert "already exists" in await error_of(renamed, 409)
    names = {row[0] for row in raw_db.execute_sql("SELECT name FROM server").fetchall()}
    assert names == {"web-01", "web-02"}
    assert first["id"] != second["id"]


async def test_partial_update_validates_and_keeps_the_rest(client: Client, tmp_path: Path) -> None:
    server = await create_server(client, password_server())
    url = f"/api/v1/servers/{server['id']}"
    for body, field in [
        ({"port": 70000}, "port"),
        ({"name": None}, "name: may not be null"),
        ({"auth_type": "key"}, "private_key: required"),
        ({"password": None}, "password: required"),
        ({"hostname": "x y"}, "hostname"),
        ({"bogus": 1}, "bogus"),
    ]:
        assert field in await error_of(await client.put(url, json=body), 400)
    assert await ok_data(await client.get(url)) == server

    key = make_key(tmp_path, "id_ed25519")
    switched = await ok_data(await client.put(url, json={"auth_type": "key", "private_key": key}))
    assert switched["auth_type"] == "key" and switched["has_private_key"] is True
    assert switched["has_password"] is True  # nothing the user stored is dropped silently
    cleared = await ok_data(await client.patch(url, json={"password": None}))
    assert cleared["has_password"] is False


async def test_changing_the_address_forgets_the_trusted_host_key(client: Client, raw_db: pw.Database) -> None:
    server = await create_server(client, password_server())
    host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    param = "%s" if isinstance(raw_db, pw.PostgresqlDatabase) else "?"
    raw_db.execute_sql(f"UPDATE server SET host_key = {param}", (host_key,))
    trusted = await ok_data(await client.put(f"/api/v1/servers/{server['id']}", json={"is_active": True}))
    assert trusted["host_key_fingerprint"].startswith("SHA256:")
    moved = await ok_data(await client.put(f"/api/v1/servers/{server['id']}", json={"hostname": "10.0.0.5"}))
    assert moved["host_key_fingerprint"] is None


async def test_delete_with_jobs_needs_force(client: Client, raw_db: pw.Database) -> None:
    server = await create_server(client, password_server())
    other = await create_server(client, password_server("other"))
    insert_job(raw_db, server["id"])
    insert_job(raw_db, server["id"], status="completed")
    kept = insert_job(raw_db, other["id"])

    refused = await client.delete(f"/api/v1/servers/{server['id']}")
    assert "2 job(s)" in await error_of(refused, 409)
    assert count(raw_db, "job") == 3

    assert "force" in await error_of(await client.delete(f"/api/v1/servers/{server['id']}?force=perhaps"), 400)
    deleted = await ok_data(await client.delete(f"/api/v1/servers/{server['id']}?force=true"))
    assert deleted["deleted_jobs"] == 2
    remaining = [row[0] for row in raw_db.execute_sql("SELECT id FROM job").fetchall()]
    assert remaining == [kept]
    assert count(raw_db, "job_chunk") == 1  # the chunks of the deleted jobs went with them


async def test_force_delete_refuses_while_a_job_runs(client: Client, raw_db: pw.Database) -> None:
    server = await create_server(client, password_server())
    insert_job(raw_db, server["id"], status="running")
    refused = await client.delete(f"/api/v1/servers/{server['id']}?force=1")
    assert "running" in await error_of(refused, 409)
    assert count(raw_db, "server") == 1 and count(raw_db, "job") == 1


async def test_key_servers_with_and_without_passphrase(client: Client, tmp_path: Path) -> None:
    clear_key = make_key(tmp_path, "clear")
    locked_key = make_key(tmp_path, "locked", passphrase="open sesame", key_type="rsa")
    clear = await create_server(client, password_server("k1", auth_type="key", password=None, private_key=clear_key))
    assert (clear["has_private_key"], clear["has_password"], clear["has_passphrase"]) == (True, False, False)

    locked = password_server("k2", auth_type="key", password=None, private_key=locked_key)
    assert "encrypted; give its passphrase" in await error_of(await client.post("/api/v1/servers", json=locked), 400)
    wrong = dict(locked, passphrase="wrong")
    assert "does not decrypt" in await error_of(await client.post("/api/v1/servers", json=wrong), 400)
    right = await create_server(client, dict(locked, passphrase="open sesame"))
    assert right["has_passphrase"] is True
    not_needed = password_server("k3", auth_type="key", password=None, private_key=clear_key, passphrase="x")
    assert "not encrypted" in await error_of(await client.post("/api/v1/servers", json=not_needed), 400)


async def test_pem_upload_and_use(client: Client, raw_db: pw.Database, tmp_path: Path) -> None:
    key = make_key(tmp_path, "deploy.pem", key_type="rsa")
    response = await client.post("/api/v1/servers/upload-pem", files=upload("pem_file", "deploy.pem", key.encode()))
    uploaded = await ok_data(response, 201)
    assert uploaded["filename"] == "deploy.pem"
    assert uploaded["size"] == len(key.encode())
    assert uploaded["encrypted"] is False and uploaded["fingerprint"].startswith("SHA256:")
    assert uploaded["url"].startswith("/pem-files/")

    server = await create_server(
        client, password_server("pem", auth_type="key", password=None, pem_file_url=uploaded["url"])
    )
    assert server["has_private_key"] is True and server["pem_file_url"] == uploaded["url"]
    missing = password_server("pem2", auth_type="key", password=None, pem_file_url=f"/pem-files/{uuid.uuid4()}")
    assert "no uploaded PEM file" in await error_of(await client.post("/api/v1/servers", json=missing), 400)


async def test_bad_pem_uploads_write_nothing(client: Client, raw_db: pw.Database, tmp_path: Path) -> None:
    key = make_key(tmp_path, "k").encode()
    public = (tmp_path / "k.pub").read_bytes()
    cases = [
        (upload("pem_file", "k.pem", b"hello world"), 400, "private key"),
        (upload("pem_file", "k.pub", public), 400, "private key"),
        (upload("pem_file", "k.pem", b"\xff\xfe" * 100), 400, "binary"),
        (upload("pem_file", "../../etc/cron.d/x", key), 400, "plain name"),
        (upload("pem_file", "/root/.ssh/authorized_keys", key), 400, "plain name"),
        (upload("pem_file", "k.pem", key + b"#" * (64 * 1024)), 413, "larger than"),
        (upload("other", "k.pem", key), 400, "pem_file: is required"),
    ]
    for files, status, message in cases:
        response = await client.post("/api/v1/servers/upload-pem", files=files)
        assert message in await error_of(response, status)
    assert count(raw_db, "pem_file") == 0
    written = {path.name for path in tmp_path.rglob("*") if path.is_file()}
    assert not written & {"x", "authorized_keys", "k.pem"}


async def test_oversized_body_is_413(client: Client, raw_db: pw.Database) -> None:
    huge = password_server(private_key="A" * (2 * 1024 * 1024))
    response = await client.post("/api/v1/servers", json=huge)
    assert await error_of(response, 413) == "Request body too large"
    assert count(raw_db, "server") == 0
