"""Live output over SSE through a real Hypercorn server, a real sshd and ansible-runner."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.service import Service
from tests.harness.sse import collect, events, joined
from tests.harness.sshd import SshTarget

pytestmark = pytest.mark.slow

ORIGIN = "https://ops.example.test"
# One line every 0.5 s for 5 s, each stamped with the time it was printed.
TICKER = 'for i in $(seq 1 10); do echo "line $i $(date +%s.%N)"; sleep 0.5; done'


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, control_root: Path) -> Iterator[Service]:
    env = {
        "NEWREMORA_WORKERS": "2",
        "NEWREMORA_SSE_KEEPALIVE": "1",
        "NEWREMORA_RATE_LIMIT": "0",  # a hundred clients from one address
        "NEWREMORA_CORS_ORIGINS": ORIGIN,
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
    }
    started = Service.start(tmp_path_factory.mktemp("stream-service"), env)
    yield started
    started.stop()


@pytest.fixture
async def http(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as client:
        yield client


async def make_server(http: httpx.AsyncClient, sshd: SshTarget) -> str:
    body = sshd.server_body(f"s-{uuid.uuid4().hex[:8]}")
    response = await http.post("/api/v1/servers", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def make_job(http: httpx.AsyncClient, server_id: str, command: str) -> str:
    response = await http.post("/api/v1/jobs", json={"server_id": server_id, "command": command})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def test_lines_arrive_while_the_job_runs(http: httpx.AsyncClient, sshd: SshTarget) -> None:
    job_id = await make_job(http, await make_server(http, sshd), TICKER)
    async with http.stream("GET", f"/api/v1/jobs/{job_id}/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        received = [event async for event in events(response)]
    names = [e.name for e in received if e.name != ":"]
    assert names[0] == "status" and names[-2:] == ["status", "complete"]
    assert received[-1].json()["status"] == "completed" and received[-1].json()["exit_code"] == 0
    outputs = [e for e in received if e.name == "output"]
    assert [e.json()["content"].split()[1] for e in outputs] == [str(i) for i in range(1, 11)]
    assert [int(e.event_id or 0) for e in outputs] == sorted({int(e.event_id or 0) for e in outputs})
    # Each line reached the client while the job was still running, not in one burst at the end.
    delays = [e.arrived - float(e.json()["content"].split()[2]) for e in outputs]
    # (How fast is measured by bench/sse_latency.py, not asserted here.)
    assert received[-1].arrived - outputs[0].arrived > 4
    assert min(delays) < received[-1].arrived - outputs[0].arrived


async def test_resume_after_a_disconnect_loses_and_repeats_nothing(http: httpx.AsyncClient, sshd: SshTarget) -> None:
    chatter = 'for i in $(seq 1 12); do echo "out $i"; echo "err $i" >&2; sleep 0.2; done'
    job_id = await make_job(http, await make_server(http, sshd), chatter)
    url = f"/api/v1/jobs/{job_id}/stream"
    first = await collect(http, url, stop_after_outputs=3)
    last_id = [e for e in first if e.name == "output"][-1].event_id
    assert last_id is not None
    second = await collect(http, url, headers={"Last-Event-ID": last_id})
    stdout = (await http.get(f"/api/v1/jobs/{job_id}/stdout")).text
    stderr = (await http.get(f"/api/v1/jobs/{job_id}/stderr")).text
    assert joined(first, "stdout") + joined(second, "stdout") == stdout
    assert joined(first, "stderr") + joined(second, "stderr") == stderr
    assert stdout.count("\n") == 12 and stderr.count("\n") == 12

    # A finished job replays from any point (here with the query parameter) and ends with complete.
    replay = await collect(http, f"{url}?last_event_id=0")
    assert joined(replay, "stdout") == stdout and replay[-1].name == "complete"
    tail = await collect(http, f"{url}?last_event_id={last_id}")
    assert joined(first, "stderr") + joined(tail, "stderr") == stderr


async def test_stream_errors_and_keepalive_and_cors(http: httpx.AsyncClient, sshd: SshTarget) -> None:
    missing = await http.get(f"/api/v1/jobs/{uuid.uuid4()}/stream")
    assert missing.status_code == 404 and missing.json()["error"] == "Job not found"
    job_id = await make_job(http, await make_server(http, sshd), "sleep 2.5; echo done")
    bad = await http.get(f"/api/v1/jobs/{job_id}/stream", headers={"Last-Event-ID": "x"})
    assert bad.status_code == 400 and "last_event_id" in bad.json()["error"]

    received = await collect(http, f"/api/v1/jobs/{job_id}/stream", headers={"Origin": ORIGIN})
    assert any(e.name == ":" and e.data == "keep-alive" for e in received)  # every second on this service
    allowed = await http.get(f"/api/v1/jobs/{job_id}", headers={"Origin": ORIGIN})
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    other = await http.get(f"/api/v1/jobs/{job_id}", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_a_hundred_clients_get_every_chunk_and_a_stalled_one_slows_nobody(
    http: httpx.AsyncClient, service: Service, sshd: SshTarget
) -> None:
    line = "x" * 200
    chatty = f'for i in $(seq 1 1500); do echo "$i {line}"; done; sleep 0.5; echo tail'
    job_id = await make_job(http, await make_server(http, sshd), chatty)
    url = f"/api/v1/jobs/{job_id}/stream"

    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills at once and is never read
    stalled.connect(("127.0.0.1", service.port))
    stalled.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    try:
        limits = httpx.Limits(max_connections=120)
        async with httpx.AsyncClient(base_url=service.base_url, timeout=120, limits=limits) as many:
            results = await asyncio.gather(*(collect(many, url) for _ in range(100)))
    finally:
        stalled.close()
    stdout = (await http.get(f"/api/v1/jobs/{job_id}/stdout")).text
    assert len(stdout) > 300_000
    for received in results:
        assert received[-1].name == "complete"
        assert joined(received, "stdout") == stdout
    finished = max(r[-1].arrived for r in results)
    first_done = min(r[-1].arrived for r in results)
    assert finished - first_done < 10  # nobody waited behind the stalled client
