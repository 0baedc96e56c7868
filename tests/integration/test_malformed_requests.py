"""Malformed bytes are a 4xx in the error envelope, never a 500, on SQLite and PostgreSQL: bodies that are not
UTF-8 or nest too deep on every route that takes a JSON body, event ids out of range before a stream starts,
and a fuzz over raw bytes (bodies, query strings, content types, nesting depth) through the app's ASGI entry."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from quart import Quart
from quart.typing import TestClientProtocol as Client

from app.api.decoding import MAX_EVENT_ID, MAX_JSON_DEPTH
from tests.helpers import create_server, error_of, ok_data

FUZZ_EXAMPLES = 600


def _concrete(path: str) -> str:
    # Decoding comes before any lookup: an id that names nothing is enough.
    return "/".join(str(uuid.uuid4()) if part.startswith("{") else part for part in path.split("/"))


# The single sign-on routes answer HTML pages and redirects to a browser, not the JSON envelope: their refusals
# are tests/integration/test_oidc.py's.
BROWSER_PAGES = ("/auth/oidc/",)
# A signed trigger checks the signature before it reads the body: an unsigned body is a 401 whatever its bytes
# (tests/e2e/test_triggers.py covers its refusals); the fuzz still walks it (never a 500).
SIGNED_FIRST = ("/hooks/",)


async def _routes(client: Client, takes: str) -> list[tuple[str, str]]:
    """The routes that take a JSON body (``takes="body"``), or any body or query parameter (``"bytes"``)."""
    document = await (await client.get("/openapi.json")).get_json()
    routes = []
    for path, operations in document["paths"].items():
        if path.startswith(BROWSER_PAGES) or (takes == "body" and path.startswith(SIGNED_FIRST)):
            continue
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            query = any(parameter["in"] == "query" for parameter in operation.get("parameters", []))
            if "application/json" in content or (takes == "bytes" and (content or query or "stream" in path)):
                routes.append((method.upper(), _concrete(path)))
    return routes


async def _json_routes(client: Client) -> list[tuple[str, str]]:
    routes = await _routes(client, "body")
    assert len(routes) >= 10, routes
    return routes


@pytest.fixture
async def fuzz_routes(client: Client) -> list[tuple[str, str]]:
    routes = await _routes(client, "bytes")
    assert {"GET", "POST", "PUT", "PATCH"} <= {method for method, _ in routes}, routes
    assert any(path.endswith("/stream") for _, path in routes), routes
    return routes


MALFORMED_BODIES: list[tuple[str, bytes, str, int, str]] = [
    ("invalid UTF-8", b'{"name": "caf\xe9"}', "application/json", 400, "not valid UTF-8"),
    ("UTF-16", '{"name": "x"}'.encode("utf-16"), "application/json", 400, "not valid UTF-8"),
    ("UTF-16 declared", '{"name": "x"}'.encode("utf-16-le"), "application/json; charset=utf-16", 415, "UTF-8"),
    ("latin-1 declared", b'{"name": "caf\xe9"}', "application/json; charset=latin-1", 415, "UTF-8"),
    ("100,000 [", b"[" * 100_000, "application/json", 400, f"deeper than {MAX_JSON_DEPTH} levels"),
    ("nested objects", b'{"a":' * 1000 + b"1" + b"}" * 1000, "application/json", 400, f"deeper than {MAX_JSON_DEPTH}"),
    ("NaN", b'{"timeout": NaN}', "application/json", 400, "not valid JSON"),
]


async def test_every_malformed_body_is_a_4xx_naming_the_problem_on_every_route(client: Client) -> None:
    problems = []
    for method, path in await _json_routes(client):
        for name, body, content_type, status, says in MALFORMED_BODIES:
            response = await client.open(  # type: ignore[call-arg]  # quart.typing wants json=, the client not
                path, method=method, data=body, headers={"Content-Type": content_type}
            )
            if response.status_code != status:
                problems.append(f"{method} {path} {name}: {response.status_code}, not {status}")
                continue
            message = await error_of(response, status)
            if says not in message:
                problems.append(f"{method} {path} {name}: {message!r} does not say {says!r}")
    assert not problems, "\n".join(problems)


async def test_json_at_the_depth_limit_and_brackets_in_strings_are_still_read(client: Client) -> None:
    def nested(depth: int) -> bytes:  # the body's object is one level, the field's lists the others
        return b'{"name": ' + b"[" * (depth - 1) + b'"x"' + b"]" * (depth - 1) + b"}"

    at_limit = await client.post(
        "/api/v1/servers", data=nested(MAX_JSON_DEPTH), headers={"Content-Type": "application/json; charset=UTF-8"}
    )
    assert (await error_of(at_limit, 400)).startswith("name:")  # past decoding: the model refuses a list
    over = await client.post(
        "/api/v1/servers", data=nested(MAX_JSON_DEPTH + 1), headers={"Content-Type": "application/json"}
    )
    assert "deeper than" in await error_of(over, 400)
    # Brackets inside strings do not nest, escaped quotes do not end a string.
    body = (
        b'{"name": "web-01", "hostname": "127.0.0.1", "user": "u", "auth_type": "password", "password": "'
        + b'[{\\"' * 100
        + b'"}'
    )
    created = await client.post("/api/v1/servers", data=body, headers={"Content-Type": "application/json"})
    assert (await ok_data(created, 201))["name"] == "web-01"


BAD_EVENT_IDS = ["99999999999999999999999", str(MAX_EVENT_ID + 1), "-1", "abc", "1.5", "\xb2", " 7"]
STREAM_START_BOUND_S = 10.0


async def test_out_of_range_event_ids_are_a_400_before_the_stream_starts(client: Client) -> None:
    server = await create_server(
        client,
        {"name": "s1", "hostname": "127.0.0.1", "user": "u", "auth_type": "password", "password": "pw-1"},
    )
    # No worker threads: the job stays queued, so a stream that started would not end by itself.
    job = await ok_data(await client.post("/api/v1/jobs", json={"server_id": server["id"], "command": "true"}), 201)
    stream = f"/api/v1/jobs/{job['id']}/stream"
    problems = []
    for raw in BAD_EVENT_IDS:
        for how, request in (
            ("header", {"headers": {"Last-Event-ID": raw}}),
            ("query", {"query_string": {"last_event_id": raw}}),
        ):
            try:
                # A stream that started would last as long as the queued job: bounded, it is a failure.
                response = await asyncio.wait_for(client.get(stream, **request), STREAM_START_BOUND_S)
            except TimeoutError:
                problems.append(f"{how} {raw!r}: a stream started")
                continue
            if response.status_code != 400:
                problems.append(f"{how} {raw!r}: {response.status_code}")
                continue
            message = await error_of(response, 400)
            if not message.startswith("last_event_id:") or f"0 to {MAX_EVENT_ID})" not in message:
                problems.append(f"{how} {raw!r}: {message!r}")
    assert not problems, "\n".join(problems)


@dataclass
class Answer:
    status: int = 0
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""


async def asgi_request(
    app: Quart, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> Answer:
    """One request through the app's ASGI entry, as Hypercorn would make it (raw bytes where a test client would
    encode them), in two body parts."""
    parts = [body[: len(body) // 2], body[len(body) // 2 :]]
    scope = {
        "type": "http",
        "asgi": {"spec_version": "2.1", "version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
        "state": {},
    }
    answer = Answer()

    async def receive() -> dict[str, Any]:
        if parts:
            chunk = parts.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(parts)}
        await asyncio.Event().wait()  # a client that waits for its answer: no disconnect
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = dict(message["headers"])
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    await app.asgi_app(scope, receive, send)  # type: ignore[arg-type]
    return answer


def _nested(depth: int, opener: bytes, inner: bytes) -> bytes:
    closer = b"]" if opener == b"[" else b"}"
    return opener * depth + inner + closer * depth


def _multipart(name: bytes, filename: bytes, content: bytes) -> bytes:
    """A form part (the PEM upload's shape) with raw bytes in its name, file name and content."""
    disposition = b'Content-Disposition: form-data; name="' + name + b'"; filename="' + filename + b'"'
    return b"--x\r\n" + disposition + b"\r\n\r\n" + content + b"\r\n--x--\r\n"


CONTENT_TYPES = [
    b"application/json",
    b"application/json; charset=utf-8",
    b"application/json; charset=latin-1",
    b"application/json; charset=utf-16",
    b"application/json; charset=\xff",
    b"text/plain",
    b"application/x-www-form-urlencoded",
    b"multipart/form-data; boundary=x",
    b"\xff\xfe",
]
bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(_nested, st.integers(0, 200_000), st.just(b"["), st.binary(max_size=20)),
    st.builds(_nested, st.integers(0, 5_000), st.just(b'{"a":'), st.sampled_from([b"1", b"\xff", b'"\\ud800"'])),
    st.builds(_multipart, st.binary(max_size=12), st.binary(max_size=12), st.binary(max_size=60)),
    st.builds(
        lambda text, junk: text.encode("utf-8", "surrogatepass") + junk,
        st.text(max_size=50),
        st.binary(max_size=4),
    ),
)


QUERY_NAMES = [b"page", b"limit", b"last_event_id", b"include_output", b"active_only", b"force", b"format", b"search"]
queries = st.builds(
    lambda name, value: name + b"=" + value,
    st.sampled_from(QUERY_NAMES),
    st.one_of(st.binary(max_size=30), st.integers().map(lambda number: str(number).encode())),
)
# Bytes a server passes in a header value (h11 refuses NUL, CR, LF and trims spaces and tabs).
header_values = st.binary(min_size=1, max_size=30).map(lambda raw: raw.translate(None, b"\x00\r\n\t ")).filter(bool)


@given(
    route_index=st.integers(min_value=0),
    body=bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
    query=st.one_of(st.binary(max_size=60), queries),
    event_id=st.one_of(st.none(), header_values),
)
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
async def test_raw_bytes_and_deep_nesting_never_answer_5xx(
    app: Quart,
    fuzz_routes: list[tuple[str, str]],
    route_index: int,
    body: bytes,
    content_type: bytes,
    query: bytes,
    event_id: bytes | None,
) -> None:
    method, path = fuzz_routes[route_index % len(fuzz_routes)]
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if event_id is not None:
        headers.append((b"last-event-id", event_id))
    answer = await asgi_request(app, method, path, query, headers, body)
    assert 200 <= answer.status < 500, (method, path, answer.status, answer.body[:300])
    if answer.status >= 400:
        envelope = json.loads(answer.body)
        assert envelope["success"] is False and isinstance(envelope["error"], str), envelope
