"""The OpenAPI document: what quart-schema derives from the models, completed with what it cannot know
(the error envelope of every failure the API can answer with, and the text and event-stream bodies)."""

from __future__ import annotations

from typing import Any, Final

from quart_schema import OpenAPIProvider

from app.api.oidc import SIGN_IN_RESPONSES
from app.schemas.common import ErrorEnvelope

ALWAYS: Final = {
    400: "Invalid input (the message names the field), or a Host this service does not answer to",
    401: "No valid API key (once keys or users exist), or an expired key, or the key of a disabled user",
    403: "The caller's role is below the least role of the route (docs/access.md)",
    429: "Rate limit exceeded",
    500: "Internal error",
    503: "Database unavailable",
}
UNSAFE_METHODS: Final = frozenset({"post", "put", "patch", "delete"})
TEXT_ENDPOINTS: Final = {
    "/logs": ("The job's output", ["text/plain"]),
    "/stdout": ("The job's output", ["text/plain"]),
    "/stderr": ("The job's output", ["text/plain"]),
    "/stream": ("Server-Sent Events", ["text/event-stream"]),
    "/inventories/export": (
        "An Ansible inventory (ini: text/plain, yaml: application/yaml)",
        ["text/plain", "application/yaml"],
    ),
}
CONFLICTS: Final = {
    ("post", "/api/v1/servers"),
    ("put", "/api/v1/servers/{server_id}"),
    ("patch", "/api/v1/servers/{server_id}"),
    ("delete", "/api/v1/servers/{server_id}"),
    ("post", "/api/v1/jobs"),
    ("post", "/api/v1/jobs/script"),
    ("post", "/api/v1/jobs/{job_id}/cancel"),
    ("post", "/api/v1/jobs/{job_id}/duplicate"),
    ("post", "/api/v1/credentials"),
    ("put", "/api/v1/credentials/{credential_id}"),
    ("patch", "/api/v1/credentials/{credential_id}"),
    ("delete", "/api/v1/credentials/{credential_id}"),
    ("post", "/api/v1/users"),
    ("patch", "/api/v1/users/{user_id}"),
    ("post", "/api/v1/notification-targets"),
    ("patch", "/api/v1/notification-targets/{target_id}"),
}


METRICS_OPERATION: Final[dict[str, Any]] = {
    "summary": "Prometheus metrics",
    "description": "Prometheus text format (OpenMetrics when the scraper's Accept asks for it). Open unless "
    "NEWREMORA_METRICS_TOKEN is set; then send it as Authorization: Bearer <token>.",
    "responses": {
        "200": {
            "description": "The metrics of this process and, on API nodes, of the whole deployment",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        "401": {
            "description": "No valid metrics token (only when NEWREMORA_METRICS_TOKEN is set)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    }


class ApiDocument(OpenAPIProvider):
    def schema(self) -> dict[str, Any]:
        document: dict[str, Any] = super().schema()
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorEnvelope"] = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
        document["paths"] = {path: ops for path, ops in document["paths"].items() if not _is_page(path)}
        if "/metrics" in document["paths"]:
            document["paths"]["/metrics"]["get"] = METRICS_OPERATION
        for path, operations in document["paths"].items():
            for operation in operations.values() if path in SIGN_IN_RESPONSES else ():
                operation["responses"] = SIGN_IN_RESPONSES[path]
            if not path.startswith("/api/v1/"):
                continue
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                codes = dict(ALWAYS)
                if method in UNSAFE_METHODS:
                    codes[403] = (
                        "The caller's role is below the route's (docs/access.md), or sent from a page of another "
                        "site (Origin not this service nor a CORS origin)"
                    )
                if "requestBody" in operation:
                    codes[413] = "Request body too large"
                    codes[415] = "A body in a charset other than UTF-8"
                if "{" in path or "requestBody" in operation:
                    codes[404] = "No such resource (the path's id, or one the body refers to)"
                if (method, path) in CONFLICTS:
                    codes[409] = "Conflicts with the current state"
                for code, description in codes.items():
                    responses.setdefault(str(code), _error(description))
                for suffix, (description, content_types) in TEXT_ENDPOINTS.items():
                    if path.endswith(suffix):
                        responses["200"] = {
                            "description": description,
                            # A YAML inventory is a mapping once parsed; the other bodies are text.
                            "content": {
                                kind: {"schema": {"type": "object" if kind == "application/yaml" else "string"}}
                                for kind in content_types
                            },
                        }
        return document


def _is_page(path: str) -> bool:
    return path == "/" or path.startswith("/static/")
