"""What a command prints comes back as printed, on both databases: NUL bytes (PostgreSQL text cannot hold them),
the character the store escapes with, and bytes that are not UTF-8 (U+FFFD, as documented) — through the JSON
API, the text endpoints and a stream replayed after the end. A real sshd, real Ansible runs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from tests.harness.sshd import SshTarget
from tests.jobs_helpers import password_server_for, submit, wait_finished

pytestmark = pytest.mark.slow

# The reported command: a NUL, then more output a second later (it used to be lost on PostgreSQL, and the job
# failed saying the service stopped).
NUL_THEN_MORE = "printf 'a\\000b\\n'; sleep 1; echo more"
# find -print0 (it used to end failed / internal with no output on PostgreSQL).
PRINT0 = "d=$(mktemp -d); touch $d/one $d/two; cd $d && find . -type f -print0 | sort -z; rm -r $d"
# NUL on stderr; U+10FFFF (the store's escape character) followed by "0" and "e"; a byte that is not UTF-8.
ODD_BYTES = "printf 'e\\000r' >&2; printf '\\364\\217\\277\\2770|\\364\\217\\277\\277e|\\377x\\000'"


@pytest.fixture
def worker_threads() -> int:
    return 2


def stream_outputs(body: str) -> dict[str, str]:
    """The output events of a finished job's stream, joined per stream (each data line is JSON)."""
    joined = {"stdout": "", "stderr": ""}
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if lines.get("event") == "output":
            content: dict[str, Any] = json.loads(lines["data"])
            joined[content["type"]] += content["content"]
    return joined


async def check_every_view(client: Client, job_id: str, stdout: str, stderr: str = "") -> None:
    done = await wait_finished(client, job_id)
    assert (done["status"], done["exit_code"], done["error"]) == ("completed", 0, None), done
    assert (done["stdout"], done["stderr"]) == (stdout, stderr)
    for path, expected in (("stdout", stdout), ("stderr", stderr)):
        response = await client.get(f"/api/v1/jobs/{job_id}/{path}")
        assert await response.get_data() == expected.encode(), path  # the byte 0 itself
    logs = await (await client.get(f"/api/v1/jobs/{job_id}/logs")).get_data()
    assert sorted(logs) == sorted((stdout + stderr).encode())  # interleaved in arrival order
    stream = await client.get(f"/api/v1/jobs/{job_id}/stream")
    assert stream_outputs(await stream.get_data(as_text=True)) == {"stdout": stdout, "stderr": stderr}


async def test_nul_bytes_round_trip_through_the_api_text_and_stream(client: Client, sshd: SshTarget) -> None:
    server_id = await password_server_for(client, sshd)
    nul_then_more = await submit(client, server_id, NUL_THEN_MORE)
    print0 = await submit(client, server_id, PRINT0)
    odd = await submit(client, server_id, ODD_BYTES)
    await check_every_view(client, nul_then_more, "a\x00b\nmore\n")
    await check_every_view(client, print0, "./one\x00./two\x00")
    await check_every_view(client, odd, "\U0010ffff0|\U0010ffffe|\ufffdx\x00", "e\x00r")
