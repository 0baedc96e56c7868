"""Signed triggers through real service processes: two API nodes on one PostgreSQL database, requests signed as
docs/orchestration.md says. A wrong signature, an unknown trigger and a stale timestamp get 401; the same valid
request sent to both nodes at once launches once (the other answer: 409); the mapped values reach the job; a bad
value is 422; past the trigger's rate limit, 429 with Retry-After; nothing refused launches anything."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playhouse.db_url import connect

from app.templates import normalized
from app.trigger_signatures import sign
from tests.harness.service import Service

pytestmark = pytest.mark.slow


@pytest.fixture
def nodes(tmp_path: Path, pg_env: dict[str, str]) -> Iterator[list[Service]]:
    started: list[Service] = []
    try:
        for i in range(2):
            started.append(Service.start(tmp_path / f"api-{i}", pg_env, ("serve", "--no-workers")))
        yield started
    finally:
        for service in started:
            service.stop()


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json",
        "X-NewRemora-Timestamp": stamp,
        "X-Hub-Signature-256": sign(secret, stamp, body),
    }


def test_only_a_fresh_valid_signature_launches_and_only_once(nodes: list[Service], pg_env: dict[str, str]) -> None:
    database = connect(pg_env["NEWREMORA_DATABASE_URL"])

    def jobs() -> list[tuple[str, str, str]]:
        rows = database.execute_sql("SELECT id, submitted_by, parameters FROM job ORDER BY created_at").fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    first, second = (httpx.Client(base_url=node.base_url, timeout=30) for node in nodes)
    try:
        server = {"name": "t1", "hostname": "127.0.0.1", "port": 1, "user": "u", "auth_type": "password"}
        made = first.post("/api/v1/servers", json={**server, "password": "pw-1"})
        assert made.status_code == 201, made.text
        definition = normalized(
            {
                "kind": "command",
                "command": 'echo "$version"',
                "timeout": 60,
                "server_id": made.json()["data"]["id"],
                "parameters": [
                    {"name": "version", "type": "string", "required": True},
                    {"name": "count", "type": "integer", "default": 1},
                ],
            }
        )
        template_id = str(uuid.uuid4())
        database.execute_sql(
            "INSERT INTO job_template (id, name, version, definition, created_at, updated_at) "
            "VALUES (%s, 'deploy', 1, %s, now(), now())",
            (template_id, json.dumps(definition)),
        )
        created = first.post(
            f"/api/v1/templates/{template_id}/triggers",
            json={"name": "release", "mapping": {"version": "release.tag_name"}, "rate_limit": 3},
        )
        assert created.status_code == 201, created.text
        trigger = created.json()["data"]
        secret, hook = trigger["secret"], trigger["path"]
        listed = first.get(f"/api/v1/templates/{template_id}/triggers").json()["data"]["triggers"]
        assert [one["id"] for one in listed] == [trigger["id"]] and secret not in json.dumps(listed)

        body = json.dumps({"release": {"tag_name": "v1.2.3"}, "count": "7"}).encode()
        refused: list[httpx.Response] = [
            first.post(hook, content=body, headers=signed("nrwh_not-the-secret", body)),
            first.post(hook, content=body, headers={"Content-Type": "application/json"}),
            first.post(f"/hooks/{uuid.uuid4()}", content=body, headers=signed(secret, body)),
            first.post(hook, content=body + b" ", headers=signed(secret, body)),
        ]
        assert [one.status_code for one in refused] == [401] * 4
        assert len({one.json()["error"] for one in refused}) == 1  # nothing to learn from which it was
        stale = first.post(hook, content=body, headers=signed(secret, body, int(time.time()) - 301))
        assert stale.status_code == 401 and "300 s" in stale.json()["error"]
        assert jobs() == []

        # The same valid request at both nodes at once: one launch.
        headers = signed(secret, body)
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda client: client.post(hook, content=body, headers=headers), (first, second)))
        assert sorted(one.status_code for one in answers) == [201, 409], [one.text for one in answers]
        launched = next(one for one in answers if one.status_code == 201).json()["data"]
        assert launched["template_id"] == template_id and len(launched["job_ids"]) == 1
        again = second.post(hook, content=body, headers=headers)
        assert again.status_code == 409
        rows = jobs()
        assert [(row[0], row[1]) for row in rows] == [(launched["job_ids"][0], f"trigger:{trigger['id']}")]
        assert json.loads(rows[0][2]) == {"version": "v1.2.3", "count": 7}

        bad = json.dumps({"release": {"tag_name": "v2"}, "count": "seven"}).encode()
        answer = second.post(hook, content=bad, headers=signed(secret, bad))
        assert answer.status_code == 422 and answer.json()["error"] == "parameters.count: must be an integer"
        assert len(jobs()) == 1

        # Three a minute: two more pass, the next is refused with a wait, across both nodes.
        statuses: list[int] = []
        for i, client in enumerate((first, second, first)):
            more = json.dumps({"release": {"tag_name": f"v3.{i}"}}).encode()
            answer = client.post(hook, content=more, headers=signed(secret, more))
            statuses.append(answer.status_code)
        assert statuses == [201, 201, 429]
        assert 1 <= int(answer.headers["Retry-After"]) <= 60 and answer.json()["success"] is False
        assert len(jobs()) == 3

        audit: list[dict[str, Any]] = first.get(
            "/api/v1/audit", params={"actor": f"trigger:{trigger['id']}", "limit": 100}
        ).json()["data"]["events"]
        outcomes = sorted((event["status"], event["outcome"]) for event in audit)
        assert outcomes == sorted(
            [(401, "refused")] * 4  # three unverifiable requests and the stale one
            + [(201, "success")] * 3
            + [(409, "refused")] * 2
            + [(422, "refused")]
            + [(429, "refused")]
        )
        for node in nodes:
            assert secret not in node.log()
        assert secret not in json.dumps(audit)
    finally:
        first.close()
        second.close()
        database.close()
