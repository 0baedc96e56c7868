"""launch_template, the contract schedules and triggers call: values converted by type (strings too), the job
records its template, version and values (secrets redacted, encrypted apart), a bad value changes nothing, and
editing the template afterwards leaves the past job as it was."""

from __future__ import annotations

import json
import uuid
from typing import Any

import peewee as pw
import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.apikeys import create_key
from app.errors import Conflict, InvalidInput, NotFound
from app.jobqueue.submit import duplicate_job
from app.models import Job
from app.runtime import Runtime
from app.templates import create_template, get_template, launch_template, update_template
from app.users import create_user
from tests.helpers import create_server, error_of, ok_data, password_server

DEFINITION: dict[str, Any] = {
    "kind": "command",
    "command": 'printf %s "$who"',
    "timeout": 30,
    "priority": 5,
    "parameters": [
        {"name": "who", "type": "string", "required": True, "pattern": "[a-z]+"},
        {"name": "count", "type": "integer", "min": 1, "max": 5, "default": 2},
        {"name": "loud", "type": "boolean"},
        {"name": "token", "type": "secret"},
    ],
}


async def test_launch_records_template_version_and_values(app: Quart, client: Client) -> None:
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    server = await create_server(client, password_server("tpl-01"))
    definition = {**DEFINITION, "server_id": server["id"]}
    template = await runtime.database.run(create_template, "greet", definition, "local:local")

    def launch(values: dict[str, object]) -> Any:
        return launch_template("greet", values, vault=runtime.vault, max_timeout=3600, submitted_by="schedule:abc")

    launched = await runtime.database.run(launch, {"who": "ann", "count": "3", "loud": "yes", "token": "s3cret"})
    assert (launched.template_id, launched.version, launched.batch_id) == (template.id, 1, None)
    job = await runtime.database.run(Job.get_by_id, launched.jobs[0].id)
    assert (job.template_id, job.template_version, job.submitted_by) == (template.id, 1, "schedule:abc")
    assert job.parameters is not None and job.secret_parameters_enc is not None
    assert json.loads(job.parameters) == {"who": "ann", "count": 3, "loud": True, "token": "********"}
    assert "s3cret" not in job.secret_parameters_enc
    assert json.loads(runtime.vault.decrypt(job.secret_parameters_enc)) == {"token": "s3cret"}

    for values, named in [({"who": "Ann"}, "who"), ({"who": "a", "count": 9}, "count"), ({"x": "1", "who": "a"}, "x")]:
        with pytest.raises(InvalidInput, match=rf"parameters\.{named}"):
            await runtime.database.run(launch, values)
    with pytest.raises(InvalidInput, match=r"parameters\.who: is required"):
        await runtime.database.run(launch, {})
    assert await runtime.database.run(lambda: Job.select().count()) == 1

    # A duplicate runs with the same values (the secret one while the original still holds it), then not at all.
    _, copy = await runtime.database.run(duplicate_job, job.id, None, {}, 3600, runtime.vault, "local:local")
    assert (copy.template_id, copy.template_version, copy.parameters) == (template.id, 1, job.parameters)
    assert copy.secret_parameters_enc == job.secret_parameters_enc
    await runtime.database.run(lambda: Job.update(secret_parameters_enc=None).where(Job.id == job.id).execute())
    with pytest.raises(Conflict, match="launch its template again"):
        await runtime.database.run(duplicate_job, job.id, None, {}, 3600, runtime.vault, "local:local")

    await runtime.database.run(update_template, template.id, "greet", {**definition, "command": "true"}, "local:local")
    assert (await runtime.database.run(get_template, template.id)).version == 2
    again = await runtime.database.run(Job.get_by_id, job.id)
    assert (again.template_version, again.command, again.parameters) == (1, job.command, job.parameters)
    with pytest.raises(NotFound):
        await runtime.database.run(
            lambda: launch_template("nope", {}, vault=runtime.vault, max_timeout=60, submitted_by="x")
        )


async def test_template_actions_are_audited_and_no_secret_value_is_recorded(
    app: Quart, client: Client, raw_db: pw.Database
) -> None:
    secret = f"tok-{uuid.uuid4().hex}"
    server = await create_server(client, password_server("tpl-audit"))
    body = {**DEFINITION, "name": "audited", "server_id": server["id"]}
    made = await ok_data(await client.post("/api/v1/templates", json=body), 201)
    assert "********" not in json.dumps(made) and made["parameters"][3] == {
        "name": "token",
        "type": "secret",
        "label": None,
        "description": None,
        "required": False,
        "default": None,
        "pattern": None,
        "min": None,
        "max": None,
        "choices": None,
    }
    launched = await ok_data(
        await client.post("/api/v1/templates/audited/launch", json={"parameters": {"who": "ann", "token": secret}}),
        201,
    )
    assert launched["parameters"] == {"who": "ann", "count": 2, "token": "********"}
    refused = await client.post(
        f"/api/v1/templates/{made['id']}/launch", json={"parameters": {"who": "ANN", "token": secret}}
    )
    assert await error_of(refused, 400) == "parameters.who: does not match the pattern [a-z]+"
    runtime: Runtime = app.extensions[RUNTIME_KEY]
    viewer = runtime.database.call(lambda: create_key("vic", create_user("vic", "viewer")).key)
    # Refused before the handler (a viewer may not launch): the row keeps the names given, never a value.
    as_viewer = await client.post(
        f"/api/v1/templates/{made['id']}/launch",
        json={"parameters": {"who": "ann", "token": secret}},
        headers={"Authorization": f"Bearer {viewer}"},
    )
    await error_of(as_viewer, 403)
    admin = runtime.database.call(lambda: create_key("root", create_user("root", "admin")).key)
    headers = {"Authorization": f"Bearer {admin}"}
    await ok_data(
        await client.put(f"/api/v1/templates/{made['id']}", json={**body, "command": "true"}, headers=headers)
    )
    await ok_data(await client.delete(f"/api/v1/templates/{made['id']}", headers=headers))

    cursor = raw_db.execute_sql(
        "SELECT action, object_id, outcome, summary FROM audit_event "
        "WHERE substr(action, 1, 9) = 'template.' ORDER BY id"
    )
    found = [
        (action, object_id, outcome, json.loads(summary or "null")) for action, object_id, outcome, summary in cursor
    ]
    assert [(action, outcome) for action, _, outcome, _ in found] == [
        ("template.create", "success"),
        ("template.launch", "success"),
        ("template.launch", "refused"),
        ("template.launch", "refused"),
        ("template.update", "success"),
        ("template.delete", "success"),
    ]
    assert found[1][3] == {"parameters": {"who": "ann", "count": 2, "token": "********"}, "version": 1}
    # A refused launch: the names given only.
    assert found[2][3] == found[3][3] == {"parameters": ["token", "who"]}
    assert found[0][1] == found[4][1] == found[5][1] == made["id"]
    everything = repr(raw_db.execute_sql("SELECT * FROM audit_event").fetchall())
    everything += repr(raw_db.execute_sql("SELECT * FROM job").fetchall())
    assert secret not in everything
