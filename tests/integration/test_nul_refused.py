"""A NUL in any request field is a 400 naming the field, on SQLite and PostgreSQL alike (PostgreSQL text cannot
hold U+0000: stored, it was a 500 there and a stored NUL on SQLite). "Any" is checked by walking /openapi.json:
every field of every JSON body and every query parameter of every route."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from quart.typing import TestClientProtocol as Client

from tests.helpers import error_of, ok_data

WITH_NUL = "a\x00b"


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    field: str
    body: dict[str, Any] | None = None
    query: dict[str, str] | None = None


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].removeprefix("#/components/schemas/")]
    return schema


def _types(document: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    schema = _resolve(document, schema)
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        found |= _types(document, alternative)
    return found


def _value_with_nul(types: set[str]) -> Any:
    """A value of the field's own shape that holds a NUL (a list of strings, a mapping, or a string)."""
    if "array" in types:
        return [WITH_NUL]
    if "object" in types:
        return {"name": WITH_NUL}
    return WITH_NUL


# The single sign-on routes answer HTML pages and redirects to a browser, not the JSON envelope: their refusals
# (bad state, provider error, single sign-on off) are tests/integration/test_oidc.py's.
BROWSER_PAGES = ("/auth/oidc/",)


def _concrete(path: str) -> str:
    # Validation comes before any lookup: an id that names nothing is enough.
    return "/".join(str(uuid.uuid4()) if part.startswith("{") else part for part in path.split("/"))


def probes(document: dict[str, Any]) -> Iterator[Probe]:
    for path, operations in document["paths"].items():
        if path.startswith(BROWSER_PAGES):
            continue
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    yield Probe(method, _concrete(path), parameter["name"], query={parameter["name"]: WITH_NUL})
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue  # the PEM upload (multipart) checks its file name with a pattern
            body = _resolve(document, content["application/json"]["schema"])
            for alternative in [body, *(_resolve(document, a) for a in body.get("anyOf", body.get("oneOf", [])))]:
                for name, schema in alternative.get("properties", {}).items():
                    value = _value_with_nul(_types(document, schema))
                    yield Probe(method, _concrete(path), name, body={name: value})


async def test_every_field_of_every_request_refuses_a_nul(client: Client) -> None:
    document = await (await client.get("/openapi.json")).get_json()
    walked = list(probes(document))
    problems = []
    for probe in walked:
        response = await client.open(probe.path, method=probe.method.upper(), json=probe.body, query_string=probe.query)
        body = await response.get_json()
        error = body.get("error") if isinstance(body, dict) else None
        if response.status_code != 400 or not error or not error.startswith(probe.field) or "NUL" not in error:
            problems.append(f"{probe.method.upper()} {probe.path} {probe.field}: {response.status_code} {error!r}")
    assert not problems, "\n".join(problems)
    # The walk reached the fields first reported: search, a credential's description, a command, a server's name.
    fields = {probe.field for probe in walked}
    assert {"search", "description", "command", "script", "name", "extra_vars", "content", "page"} <= fields
    assert len(walked) > 100, len(walked)


async def test_the_reported_requests_are_400_and_store_nothing(client: Client) -> None:
    message = await error_of(await client.get("/api/v1/jobs", query_string={"search": WITH_NUL}), 400)
    assert message == "search: must not contain NUL characters"
    body = {"name": "shared", "description": "x\u0000y", "password": "secret"}
    message = await error_of(await client.post("/api/v1/credentials", json=body), 400)
    assert message == "description: must not contain NUL characters"
    assert (await ok_data(await client.get("/api/v1/credentials")))["credentials"] == []
    nested = {"server_id": str(uuid.uuid4()), "playbook": "p.yml", "extra_vars": {"a": [1, {"b": "c\x00"}]}}
    message = await error_of(await client.post("/api/v1/jobs/playbook", json=nested), 400)
    assert message == "extra_vars.a.1.b: must not contain NUL characters"


async def test_a_nul_in_a_path_or_a_stream_s_resume_point_is_never_a_500(client: Client) -> None:
    for path in ("/api/v1/jobs/a%00b", "/api/v1/servers/a%00b", "/api/v1/jobs/a%00b/stdout"):
        assert (await client.get(path)).status_code == 404, path
    stream = await client.get(f"/api/v1/jobs/{uuid.uuid4()}/stream", query_string={"last_event_id": WITH_NUL})
    assert stream.status_code == 400
