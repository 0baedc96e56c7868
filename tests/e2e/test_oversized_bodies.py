"""A client that sends a whole oversized body before reading (as most clients do) reads the 413, never a
connection reset: a raw socket against the real service, with a Content-Length and chunked without one."""

from __future__ import annotations

import json
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.service import Service

pytestmark = pytest.mark.slow

BODY_BYTES = 3 * 1024 * 1024  # three times the default NEWREMORA_MAX_BODY_BYTES
ATTEMPTS = 30  # the reset was a race: on the old code one attempt in five to ten lost the answer
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, control_root: Path) -> Iterator[Service]:
    env = {
        "NEWREMORA_WORKERS": "0",
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_JOB_RATE_LIMIT": "0",
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_LOG_LEVEL": "warning",
    }
    started = Service.start(tmp_path_factory.mktemp("bodies"), env)
    yield started
    started.stop()


def _send_then_read(port: int, head: bytes, body: Iterator[bytes]) -> bytes:
    """Everything is sent before the first read; the answer is read to the server's close."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        for part in body:
            sock.sendall(part)
        received = b""
        while b"\r\n\r\n" not in received or not _complete(received):
            data = sock.recv(65536)  # a reset raises ConnectionResetError here: the failure this test is about
            if not data:
                break
            received += data
        return received


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def _envelope_413(response: bytes) -> dict[str, object]:
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    envelope = json.loads(body)
    assert envelope["success"] is False and envelope["data"] is None
    assert envelope["error"] == "Request body too large"
    assert envelope["request_id"]
    return dict(envelope)


def _payload() -> Iterator[bytes]:
    block = b'{"name": "' + b"x" * (CHUNK - 10) + b'"'
    for _ in range(BODY_BYTES // CHUNK):
        yield block


def _chunked() -> Iterator[bytes]:
    for part in _payload():
        yield f"{len(part):x}\r\n".encode() + part + b"\r\n"
    yield b"0\r\n\r\n"


def test_a_client_sending_an_oversized_body_before_reading_always_reads_the_413(service: Service) -> None:
    with_length = (
        f"POST /api/v1/servers HTTP/1.1\r\nHost: 127.0.0.1:{service.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {BODY_BYTES}\r\n\r\n"
    ).encode()
    chunked = (
        f"POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:{service.port}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    for attempt in range(ATTEMPTS):
        try:
            _envelope_413(_send_then_read(service.port, with_length, _payload()))
            _envelope_413(_send_then_read(service.port, chunked, _chunked()))
        except (ConnectionResetError, BrokenPipeError) as reset:
            pytest.fail(f"attempt {attempt + 1}: the connection was reset instead of answering 413 ({reset!r})")
