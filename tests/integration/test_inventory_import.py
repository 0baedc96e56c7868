"""Inventory import rules: what is refused, what is updated, dry runs, bad input, and the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import peewee as pw
import pytest
from quart.typing import TestClientProtocol as Client

from app.settings import Settings
from tests.helpers import create_server, error_of, make_key, ok_data, password_server

pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"])


async def import_text(client: Client, content: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = await ok_data(
        await client.post("/api/v1/inventories/import", json={"content": content, **extra})
    )
    return data


def reasons(report: dict[str, Any]) -> dict[str, str]:
    return {entry["name"]: entry["reason"] for entry in report["skipped"]}


def servers_count(raw_db: pw.Database) -> int:
    return int(raw_db.execute_sql("SELECT COUNT(*) FROM server").fetchone()[0])


async def test_anything_that_could_act_on_this_machine_is_refused_and_the_rest_imports(
    client: Client, raw_db: pw.Database, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    lookup = f"{{{{ lookup('pipe', 'touch {marker}') }}}}"
    yaml_inventory = f"""
all:
  vars:
    ansible_user: deploy
    ansible_password: s3cret
  children:
    ok:
      hosts:
        fine01: {{ansible_host: 10.0.0.1, ansible_become: yes, ansible_become_user: app, owner: "{lookup}"}}
        fine02: {{ansible_host: 10.0.0.2, ansible_connection: ssh, ansible_python_interpreter: /usr/bin/python3}}
    bad:
      hosts:
        vaulted: {{ansible_host: 10.0.0.3, ansible_password: !vault "$ANSIBLE_VAULT;1.1;AES256\\n6162"}}
        templated: {{ansible_host: "{lookup}"}}
        shell01: {{ansible_host: 10.0.0.5, ansible_shell_executable: /tmp/evil}}
        docker01: {{ansible_host: 10.0.0.6, ansible_connection: docker}}
        su01: {{ansible_host: 10.0.0.7, ansible_become_method: su}}
        keyed01: {{ansible_host: 10.0.0.8, ansible_ssh_private_key_file: /etc/ssh/ssh_host_ed25519_key}}
        interp01: {{ansible_host: 10.0.0.9, ansible_python_interpreter: "python3; id"}}
        "::1": {{}}
        extra01: {{ansible_host: 10.0.0.10, ansible_ssh_extra_args: "-o ProxyCommand=id"}}
        port01: {{ansible_host: 10.0.0.11, ansible_port: 70000}}
        unsafe01: {{ansible_host: !unsafe "{{{{ x }}}}"}}
"""
    report = await import_text(client, yaml_inventory, format="yaml")
    assert sorted(h["name"] for h in report["created"]) == ["fine01", "fine02"]
    why = reasons(report)
    assert "Ansible Vault" in why["vaulted"]
    assert "template" in why["templated"] and "template" in why["unsafe01"]
    assert "ansible_shell_executable: not allowed (runs a program on this machine)" in why["shell01"]
    assert "ansible_connection: not allowed, only ssh" in why["docker01"] and "docker" not in why["docker01"]
    assert "only sudo" in why["su01"]
    assert "NEWREMORA_KEY_DIR is not set" in why["keyed01"]
    assert "ansible_python_interpreter" in why["interp01"]
    assert "host name" in why["::1"]
    assert "ProxyCommand" in why["extra01"]
    assert "port number" in why["port01"]
    assert not marker.exists()  # no template was ever evaluated, not even in ignored variables

    servers = {s["name"]: s for s in (await ok_data(await client.get("/api/v1/servers")))["servers"]}
    assert (servers["fine01"]["become"], servers["fine01"]["become_user"]) == (True, "app")
    assert servers["fine02"]["python_interpreter"] == "/usr/bin/python3"
    assert [h["ignored_vars"] for h in report["created"] if h["name"] == "fine01"] == [["owner"]]
    assert servers_count(raw_db) == 2


async def test_updates_dry_runs_and_unreadable_inventories(client: Client, raw_db: pw.Database, tmp_path: Path) -> None:
    await create_server(client, password_server("web-01", hostname="10.0.0.1", port=22, user="deploy"))
    inventory = "[web]\nweb-01 ansible_host=10.0.0.1 ansible_port=2222\nweb-02 ansible_host=10.0.0.2\n"
    dry = await import_text(client, inventory, dry_run=True)
    assert dry["dry_run"] is True
    assert [(h["name"], h["changes"]) for h in dry["updated"]] == [("web-01", ["port", "groups"])]
    # A new host needs a login and a way in: the existing server keeps its own.
    assert reasons(dry) == {"web-02": "ansible_user: required for a new server (NewRemora does not guess the login)"}
    assert dry["groups_created"] == ["web"]
    assert servers_count(raw_db) == 1 and (await ok_data(await client.get("/api/v1/groups")))["groups"] == []

    with_user = inventory + "[all:vars]\nansible_user=deploy\n"
    report = await import_text(client, with_user)
    assert [(h["name"], h["changes"]) for h in report["updated"]] == [("web-01", ["port", "groups"])]
    assert reasons(report) == {
        "web-02": "no credential: give ansible_password, ansible_ssh_private_key_file or newremora_credential"
    }
    server = (await ok_data(await client.get("/api/v1/servers")))["servers"][0]
    assert (server["port"], server["groups"], server["has_password"]) == (2222, ["web"], True)

    for content, fmt, message in (
        ("[web\nhost ansible_host=", "ini", "not an inventory Ansible can read (ini)"),
        ("all: [unclosed", "yaml", "not an inventory Ansible can read (yaml)"),
        ("h[0:99999999]\n", "ini", "memory or time limit"),
    ):
        body = {"content": content, "format": fmt}
        assert message in await error_of(await client.post("/api/v1/inventories/import", json=body), 400)
    for body, message in (
        ({"content": "x", "fromat": "ini"}, "fromat: is not a known field"),
        ({"content": "x", "format": "toml"}, "format"),
        ({"content": ""}, "content"),
    ):
        assert message in await error_of(await client.post("/api/v1/inventories/import", json=body), 400)
    assert "format" in await error_of(await client.get("/api/v1/inventories/export?format=json"), 400)
    assert servers_count(raw_db) == 1


async def test_key_files_credentials_and_the_command_line(
    client: Client, raw_db: pw.Database, settings: Settings, tmp_path: Path
) -> None:
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    make_key(key_dir, "deploy_key")
    make_key(key_dir, "locked_key", passphrase="pass phrase")
    (key_dir / "sub").mkdir()
    credential = await ok_data(await client.post("/api/v1/credentials", json={"name": "ops", "password": "pw-1"}), 201)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        "[app]\n"
        "app01 ansible_host=10.0.0.1 ansible_ssh_private_key_file=deploy_key\n"
        "app02 ansible_host=10.0.0.2 newremora_credential=ops\n"
        "app03 ansible_host=10.0.0.3 ansible_ssh_private_key_file=locked_key\n"
        "app04 ansible_host=10.0.0.4 ansible_ssh_private_key_file=sub\n"
        "app05 ansible_host=10.0.0.5 newremora_credential=nobody\n"
        "[app:vars]\nansible_user=deploy\n"
    )
    env = {
        **os.environ,
        "NEWREMORA_DATABASE_URL": settings.effective_database_url,
        "NEWREMORA_SECRET_KEY": settings.secret_key.reveal() if settings.secret_key else "",
        "NEWREMORA_DATA_DIR": str(settings.data_dir),
        "NEWREMORA_KEY_DIR": str(key_dir),
    }
    command = [sys.executable, "-m", "app", "import-inventory", str(inventory)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr  # some hosts were skipped
    lines = done.stdout.splitlines()
    assert "created   app01" in lines and "created   app02" in lines, done.stderr
    assert any(line.startswith("skipped   app03: ansible_ssh_private_key_file: passphrase") for line in lines)
    assert any(
        line.startswith("skipped   app04: ansible_ssh_private_key_file: 'sub' is not a regular file") for line in lines
    )
    assert "skipped   app05: newremora_credential: no credential has this name or id" in lines
    assert lines[-1] == "2 created, 0 updated, 0 unchanged, 3 skipped"

    servers = {s["name"]: s for s in (await ok_data(await client.get("/api/v1/servers")))["servers"]}
    assert (servers["app01"]["auth_type"], servers["app01"]["has_private_key"]) == ("key", True)
    assert (servers["app02"]["credential_id"], servers["app02"]["auth_type"]) == (credential["id"], "password")
    assert "PRIVATE KEY" not in str(raw_db.execute_sql("SELECT * FROM server").fetchall())
    exported = await (await client.get("/api/v1/inventories/export?format=ini")).get_data(as_text=True)
    assert "app02 ansible_host=10.0.0.2 ansible_port=22 ansible_user=deploy newremora_credential=ops" in exported


async def test_a_reimport_that_moves_a_server_forgets_its_host_key_and_one_that_does_not_keeps_it(
    client: Client, raw_db: pw.Database
) -> None:
    """The same rule as a PUT that changes the address: another address is another machine."""
    host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    inventory = "web01 ansible_host=127.0.0.1 ansible_port={port} ansible_user=deploy ansible_password=pw1\n"
    await import_text(client, inventory.format(port=2201))
    param = "?" if isinstance(raw_db, pw.SqliteDatabase) else "%s"
    raw_db.execute_sql(f"UPDATE server SET host_key = {param}", (host_key,))

    same = await import_text(client, inventory.format(port=2201))
    assert [entry["name"] for entry in same["unchanged"]] == ["web01"]
    assert raw_db.execute_sql("SELECT host_key FROM server").fetchone()[0] == host_key

    moved = await import_text(client, inventory.format(port=2202))
    assert moved["updated"][0]["changes"] == ["port"]
    assert raw_db.execute_sql("SELECT host_key FROM server").fetchone()[0] is None
