"""/openapi.json documents every route of the API reference, with the reference's request and response fields
(a client generated from the document can do everything the reference promises)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as the reference writes it, with :id
    request: tuple[str, ...] = ()  # body fields the reference names
    response: tuple[str, ...] = ()  # fields of the response object (the envelope's data) the reference names
    query: tuple[str, ...] = ()
    content_type: str = "application/json"


JOB_FIELDS = ("id", "status", "command", "args", "server_id", "created_at", "timeout")
SERVER_FIELDS = ("id", "name", "hostname", "port", "user", "auth_type", "is_active", "created_at", "updated_at")
SERVER_BODY = ("name", "hostname", "port", "user", "auth_type", "password", "private_key", "pem_file_url", "is_active")

# The routes of the API reference, in its order, with the fields its examples and parameter lists show.
REFERENCE = (
    Route("GET", "/health", response=("status", "timestamp", "database", "queue", "workers")),
    Route(
        "GET",
        "/api/v1/system/info",
        response=(
            "total_servers",
            "total_jobs",
            "running_jobs",
            "completed_jobs",
            "failed_jobs",
            "queued_jobs",
            "success_rate",
            "timestamp",
        ),
    ),
    Route(
        "GET",
        "/api/v1/system/enhanced",
        response=(
            "connected_servers",
            "disconnected_servers",
            "average_job_duration",
            "jobs_per_hour",
            "worker_status",
        ),
    ),
    Route("POST", "/api/v1/jobs", request=("command", "args", "server_id", "timeout"), response=JOB_FIELDS),
    Route(
        "POST", "/api/v1/jobs/script", request=("script", "server_id", "timeout", "shell"), response=("id", "status")
    ),
    Route(
        "GET",
        "/api/v1/jobs",
        response=("jobs", "pagination"),
        query=("page", "limit", "status", "server_id", "search", "sort_by", "sort_order"),
    ),
    Route(
        "GET",
        "/api/v1/jobs/:id",
        response=(*JOB_FIELDS, "server", "started_at", "finished_at", "exit_code", "output", "stdout", "stderr"),
    ),
    Route("POST", "/api/v1/jobs/:id/cancel", response=("id", "status", "canceled_at")),
    Route("POST", "/api/v1/jobs/:id/duplicate", request=("server_id", "timeout"), response=("original_job", "new_job")),
    Route("GET", "/api/v1/jobs/:id/stream", content_type="text/event-stream"),
    Route("GET", "/api/v1/jobs/:id/logs", content_type="text/plain"),
    Route("GET", "/api/v1/jobs/:id/stdout", content_type="text/plain"),
    Route("GET", "/api/v1/jobs/:id/stderr", content_type="text/plain"),
    Route("POST", "/api/v1/servers", request=SERVER_BODY, response=SERVER_FIELDS),
    Route("GET", "/api/v1/servers", response=("servers",), query=("active_only",)),
    Route("GET", "/api/v1/servers/:id", response=SERVER_FIELDS),
    Route("PUT", "/api/v1/servers/:id", request=("name", "hostname", "port", "is_active"), response=SERVER_FIELDS),
    Route("DELETE", "/api/v1/servers/:id", query=("force",)),
    Route(
        "POST",
        "/api/v1/servers/:id/test",
        response=("server_id", "status", "response_time_ms", "test_command", "test_output", "timestamp"),
    ),
    Route("POST", "/api/v1/servers/check-status", response=("servers", "summary"), query=("active_only",)),
    Route(
        "POST",
        "/api/v1/servers/upload-pem",
        request=("pem_file",),
        response=("filename", "url", "size", "uploaded_at"),
    ),
)


class Document:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].removeprefix("#/components/schemas/")
            schema = self.document["components"]["schemas"][name]
        return schema

    def properties(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The fields of an object schema; of a union (a job, or a batch of them), those of its first object."""
        schema = self.resolve(schema)
        for alternative in schema.get("anyOf", schema.get("oneOf", [])):
            if fields := self.properties(alternative):
                return fields
        properties: dict[str, Any] = schema.get("properties", {})
        return properties

    def operation(self, route: Route) -> dict[str, Any]:
        # The reference's ":id" is the document's "{server_id}" or "{job_id}".
        parts = route.path.split("/")
        for path, operations in self.document["paths"].items():
            candidate = path.split("/")
            if len(candidate) == len(parts) and all(
                mine == theirs or (mine == ":id" and theirs.startswith("{"))
                for mine, theirs in zip(parts, candidate, strict=True)
            ):
                found: dict[str, Any] | None = operations.get(route.method.lower())
                assert found is not None, f"{route.method} {route.path}: path documented without this method"
                return found
        raise AssertionError(f"{route.method} {route.path} is not in /openapi.json")


@pytest.mark.parametrize("db_kind", ["sqlite"])
async def test_every_route_of_the_reference_is_documented_with_its_schemas(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = Document(await response.get_json())
    problems: list[str] = []
    for route in REFERENCE:
        label = f"{route.method} {route.path}"
        operation = document.operation(route)
        successes = {code: body for code, body in operation["responses"].items() if code.startswith("2")}
        if not successes:
            problems.append(f"{label}: no success response")
            continue
        for code, body in successes.items():
            content = body.get("content", {})
            if route.content_type not in content or "schema" not in content[route.content_type]:
                problems.append(f"{label}: {code} has no {route.content_type} schema")
                continue
            schema = content[route.content_type]["schema"]
            if route.content_type != "application/json":
                continue
            top = document.properties(schema)
            # /api/v1 answers in the envelope; its data is the reference's response object. /health has none.
            fields = document.properties(top["data"]) if "data" in top else top
            if not fields:
                problems.append(f"{label}: {code} response schema has no fields")
            missing = [name for name in route.response if name not in fields]
            if missing:
                problems.append(f"{label}: {code} response schema lacks {missing}")
        if route.request:
            bodies = operation.get("requestBody", {}).get("content", {})
            documented = {name for body in bodies.values() for name in document.properties(body.get("schema", {}))}
            missing = [name for name in route.request if name not in documented]
            if missing:
                problems.append(f"{label}: request schema lacks {missing}")
        # Any request may name a foreign Host (400); a page of another site gets 403 for what changes state.
        if route.path.startswith("/api/v1/") and "400" not in operation["responses"]:
            problems.append(f"{label}: 400 not documented")
        if route.method in {"POST", "PUT", "PATCH", "DELETE"} and "403" not in operation["responses"]:
            problems.append(f"{label}: 403 (cross-site) not documented")
        if "requestBody" in operation and "415" not in operation["responses"]:
            problems.append(f"{label}: 415 (charset) not documented")
        parameters = {parameter["name"] for parameter in operation.get("parameters", []) if parameter["in"] == "query"}
        missing = [name for name in route.query if name not in parameters]
        if missing:
            problems.append(f"{label}: query parameters {missing} not documented")
    assert problems == []
    # The interactive docs render that document.
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in await docs.get_data(as_text=True)
    # Documented errors use the error envelope of the reference.
    error = document.properties({"$ref": "#/components/schemas/ErrorEnvelope"})
    assert {"success", "data", "error", "request_id", "timestamp"} <= error.keys()
