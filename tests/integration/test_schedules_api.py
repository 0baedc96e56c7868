"""/api/v1/schedules through the app: create with the next 5 runs, secret values never returned nor audited, bad
input refused in the envelope with nothing saved, disable, runs, delete."""

from __future__ import annotations

from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.models import AuditEvent, Schedule
from app.runtime import Runtime
from app.templates import create_template
from tests.helpers import create_server, password_server


async def test_schedule_api_round_trip(app: Quart, client: Client) -> None:
    rt: Runtime = app.extensions[RUNTIME_KEY]
    server = await create_server(client, password_server("sched-api"))
    definition: dict[str, Any] = {
        "kind": "command",
        "command": "true",
        "timeout": 30,
        "server_id": server["id"],
        "parameters": [{"name": "days", "type": "integer", "min": 1}, {"name": "token", "type": "secret"}],
    }
    await rt.database.run(create_template, "rotate", definition, "local:local")
    body = {
        "name": "nightly",
        "template": "rotate",
        "cron": "30 2 * * *",
        "timezone": "Europe/Berlin",
        "parameters": {"days": "7", "token": "s3cret-value"},
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"parameters": {"days": 0}}, "parameters.days"),
        ({"template": "nope"}, "Template"),
        ({"overlap": "maybe"}, "overlap"),
    ]
    for bad, field in cases:
        refused = await client.post("/api/v1/schedules", json={**body, **bad})
        answer = await refused.get_json()
        assert refused.status_code in (400, 404) and answer["success"] is False, bad
        assert field in answer["error"], answer
    assert await rt.database.run(Schedule.select().count) == 0

    created = await client.post("/api/v1/schedules", json=body)
    assert created.status_code == 201
    data = (await created.get_json())["data"]
    assert data["parameters"] == {"days": 7, "token": "********"}
    assert len(data["next_runs"]) == 5 and data["next_runs"][0] == data["next_run_at"]
    assert all(one.endswith(("00:30:00.000Z", "01:30:00.000Z")) for one in data["next_runs"])
    shown = await client.get(f"/api/v1/schedules/{data['id']}")
    assert "s3cret-value" not in await shown.get_data(as_text=True)
    listed = await client.get("/api/v1/schedules")
    assert [one["name"] for one in (await listed.get_json())["data"]["schedules"]] == ["nightly"]

    disabled = await client.patch(f"/api/v1/schedules/{data['id']}", json={"enabled": False})
    assert (await disabled.get_json())["data"]["next_runs"] == []
    runs = await client.get(f"/api/v1/schedules/{data['id']}/runs")
    assert (await runs.get_json())["data"]["runs"] == []
    deleted = await client.delete(f"/api/v1/schedules/{data['id']}")
    assert (await deleted.get_json())["data"] == {"id": data["id"], "deleted": True}
    assert (await client.get(f"/api/v1/schedules/{data['id']}")).status_code == 404

    rows = await rt.database.run(lambda: list(AuditEvent.select().where(AuditEvent.object_type == "schedule")))
    assert {row.action for row in rows} >= {"schedule.create", "schedule.update", "schedule.delete"}
    assert all("s3cret-value" not in str(row.summary) for row in rows)
