"""launch_template, the contract schedules and triggers call: values converted by type (strings too), the job
records its template, version and values (secrets redacted, encrypted apart), a bad value changes nothing, and
editing the template afterwards leaves the past job as it was."""

from __future__ import annotations

import json
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.context import RUNTIME_KEY
from app.errors import InvalidInput, NotFound
from app.models import Job
from app.runtime import Runtime
from app.templates import create_template, get_template, launch_template, update_template
from tests.helpers import create_server, password_server

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

    await runtime.database.run(update_template, template.id, "greet", {**definition, "command": "true"}, "local:local")
    assert (await runtime.database.run(get_template, template.id)).version == 2
    again = await runtime.database.run(Job.get_by_id, job.id)
    assert (again.template_version, again.command, again.parameters) == (1, job.command, job.parameters)
    with pytest.raises(NotFound):
        await runtime.database.run(
            lambda: launch_template("nope", {}, vault=runtime.vault, max_timeout=60, submitted_by="x")
        )
