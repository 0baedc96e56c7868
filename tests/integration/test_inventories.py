"""Ansible inventories in and out, groups, and one job per server of a group, against real sshd instances."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from tests.harness.fixtures import SshdFactory
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until_async
from tests.helpers import ok_data
from tests.jobs_helpers import wait_finished

pytestmark = pytest.mark.slow


@pytest.fixture
def worker_threads() -> int:
    return 2


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def settings_overrides(key_dir: Path) -> dict[str, Any]:
    return {"key_dir": key_dir}


def realistic_inventory(web: SshTarget, db: SshTarget, cache: SshTarget, key_dir: Path) -> str:
    """3 groups of 6 hosts (a range, key and password hosts, group vars) under nested parents, and entries
    that must be refused: a local connection, a ProxyCommand, key files outside the key directory."""
    user = web.user
    return f"""
[web]
web[01:03]

[web:vars]
ansible_host=127.0.0.1
ansible_port={web.port}
ansible_password={user.password}

[db]
db01 ansible_port={db.port} ansible_ssh_private_key_file=deploy_key
db02 ansible_port={cache.port} ansible_password={user.password}

[db:vars]
ansible_host=127.0.0.1

[cache]
cache01 ansible_host=127.0.0.1 ansible_port={cache.port} ansible_ssh_private_key_file={key_dir}/deploy_key

[backend:children]
db
cache

[site:children]
web
backend

[all:vars]
ansible_user={user.name}
http_port=8080

[trouble]
local01 ansible_host=127.0.0.1 ansible_connection=local
proxied01 ansible_host=127.0.0.1 ansible_ssh_common_args='-o ProxyCommand="touch {key_dir.parent}/pwned"'
escape01 ansible_host=127.0.0.1 ansible_ssh_private_key_file=../outside_key
link01 ansible_host=127.0.0.1 ansible_ssh_private_key_file=link_key
"""


def prepare_keys(key_dir: Path, target: SshTarget) -> None:
    key_dir.mkdir()
    (key_dir / "deploy_key").write_text(target.user.private_key)
    outside = key_dir.parent / "outside_key"
    outside.write_text(target.user.private_key)
    os.symlink(outside, key_dir / "link_key")


async def import_text(client: Client, content: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = await ok_data(
        await client.post("/api/v1/inventories/import", json={"content": content, **extra})
    )
    return data


def names(hosts: list[dict[str, Any]]) -> list[str]:
    return sorted(host["name"] for host in hosts)


async def wait_batch(client: Client, batch_id: str, timeout: float = 120.0) -> dict[str, Any]:
    async def summary() -> dict[str, Any]:
        data: dict[str, Any] = await ok_data(await client.get(f"/api/v1/batches/{batch_id}"))
        return data

    return await wait_until_async(
        summary, timeout, f"batch {batch_id} to end", 0.2, done=lambda s: s["status"] != "running"
    )


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_a_realistic_inventory_imports_runs_on_a_group_and_exports_back(
    client: Client, sshd: SshTarget, sshd_factory: SshdFactory, key_dir: Path
) -> None:
    db, cache = sshd_factory().target, sshd_factory().target
    prepare_keys(key_dir, sshd)
    report = await import_text(client, realistic_inventory(sshd, db, cache, key_dir))

    assert names(report["created"]) == ["cache01", "db01", "db02", "web01", "web02", "web03"]
    assert report["updated"] == report["unchanged"] == []
    assert all(host["ignored_vars"] == ["http_port"] for host in report["created"])
    skipped = {entry["name"]: entry["reason"] for entry in report["skipped"]}
    assert set(skipped) == {"local01", "proxied01", "escape01", "link01"}
    assert "ansible_connection: not allowed, only ssh" in skipped["local01"] and "'local'" not in skipped["local01"]
    assert "ansible_ssh_common_args" in skipped["proxied01"] and "ProxyCommand" in skipped["proxied01"]
    assert "outside the key directory" in skipped["escape01"]
    assert "outside the key directory" in skipped["link01"]  # a symlink pointing out is refused too
    assert sorted(report["groups_created"]) == ["backend", "cache", "db", "site", "trouble", "web"]

    servers = {s["name"]: s for s in (await ok_data(await client.get("/api/v1/servers")))["servers"]}
    assert set(servers) == {"cache01", "db01", "db02", "web01", "web02", "web03"}
    assert (servers["web02"]["port"], servers["web02"]["auth_type"], servers["web02"]["groups"]) == (
        sshd.port,
        "password",
        ["web"],
    )
    assert (servers["db01"]["auth_type"], servers["db01"]["has_private_key"], servers["db01"]["groups"]) == (
        "key",
        True,
        ["db"],
    )
    assert servers["db02"]["has_password"] and servers["db02"]["user"] == sshd.user.name

    groups = {g["name"]: g for g in (await ok_data(await client.get("/api/v1/groups")))["groups"]}
    assert groups["backend"]["children"] == ["cache", "db"] and groups["backend"]["total_servers"] == 3
    assert groups["site"]["children"] == ["backend", "web"] and groups["site"]["total_servers"] == 6
    assert groups["db"]["parents"] == ["backend"] and groups["db"]["servers"] == ["db01", "db02"]
    assert groups["trouble"]["total_servers"] == 0

    # One job per server of the group and its nested groups; the exit code depends on the sshd reached.
    command = f'port=$(echo "$SSH_CONNECTION" | cut -d" " -f4); echo "on $port"; [ "$port" != {db.port} ] || exit 7'
    submitted = await ok_data(await client.post("/api/v1/jobs", json={"group": "site", "command": command}), 201)
    assert submitted["count"] == 6 and len(submitted["jobs"]) == 6
    assert {job["batch_id"] for job in submitted["jobs"]} == {submitted["batch_id"]}
    assert sorted(job["server"]["name"] for job in submitted["jobs"]) == sorted(servers)

    summary = await wait_batch(client, submitted["batch_id"])
    assert summary["status"] == "failed" and summary["total"] == 6
    assert summary["counts"] == {"queued": 0, "starting": 0, "running": 0, "completed": 5, "failed": 1, "canceled": 0}
    by_server = {job["server_name"]: job for job in summary["jobs"]}
    assert {name: job["exit_code"] for name, job in by_server.items()} == {
        "cache01": 0,
        "db01": 7,
        "db02": 0,
        "web01": 0,
        "web02": 0,
        "web03": 0,
    }
    assert by_server["db01"]["failure_reason"] == "nonzero_exit"
    for name, port in (("web01", sshd.port), ("db02", cache.port), ("db01", db.port)):
        done = await wait_finished(client, by_server[name]["job_id"])
        assert done["stdout"] == f"on {port}\n"
    assert not (key_dir.parent / "pwned").exists()

    # Exports name every server and group, never a secret, and import back changing nothing.
    for fmt in ("yaml", "ini"):
        response = await client.get(f"/api/v1/inventories/export?format={fmt}")
        assert response.status_code == 200
        exported = await response.get_data(as_text=True)
        assert sshd.user.password not in exported and "PRIVATE KEY" not in exported
        assert "deploy_key" not in exported
        again = await import_text(client, exported, format=fmt)
        assert names(again["unchanged"]) == sorted(servers), (fmt, again)
        assert again["created"] == again["updated"] == again["skipped"] == again["groups_created"] == []
    # The source imported again changes nothing either (same secrets, same groups).
    again = await import_text(client, realistic_inventory(sshd, db, cache, key_dir))
    assert names(again["unchanged"]) == sorted(servers) and again["updated"] == []
