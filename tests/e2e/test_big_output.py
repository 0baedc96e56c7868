"""A job that prints 50 MiB: the service stores at most the cap and its memory stays flat."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.service import Service
from tests.harness.sshd import SshTarget
from tests.harness.wait import wait_until

pytestmark = pytest.mark.slow

CAP = 10 * 1024 * 1024
PRINTED = 50 * 1024 * 1024
LINE = "0123456789abcdef" * 4  # 64 characters + newline per line


def peak_and_current_rss_kib(pid: int) -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmHWM"].split()[0]), int(fields["VmRSS"].split()[0])


@pytest.fixture
def service(tmp_path: Path, control_root: Path) -> Iterator[Service]:
    control_dir = tempfile.mkdtemp(dir=control_root)  # short: it holds SSH control sockets
    started = Service.start(tmp_path, {"NEWREMORA_WORKERS": "1", "NEWREMORA_CONTROL_DIR": control_dir})
    yield started
    started.stop()


def test_fifty_mib_of_output_is_capped_and_memory_stays_flat(service: Service, sshd: SshTarget) -> None:
    with httpx.Client(base_url=service.base_url, timeout=60) as http:
        server = http.post(
            "/api/v1/servers",
            json=sshd.server_body("big"),
        ).json()["data"]
        _, rss_before = peak_and_current_rss_kib(service.process.pid)
        command = f"yes {LINE} | head -c {PRINTED}; echo; echo done >&2"
        job_id = http.post("/api/v1/jobs", json={"server_id": server["id"], "command": command}).json()["data"]["id"]
        # Wait through the list, which carries no output: what is measured is the job, not a client's reads.
        listing = f"/api/v1/jobs?server_id={server['id']}"
        job = wait_until(
            lambda: http.get(listing).json()["data"]["jobs"][0],
            300,
            "the job to end",
            0.5,
            done=lambda j: j["status"] not in ("queued", "starting", "running"),
        )
        peak, _ = peak_and_current_rss_kib(service.process.pid)

        assert job["status"] == "completed", job["error"]
        assert job["output_truncated"] is True
        assert job["output_bytes"] <= CAP
        stdout = http.get(f"/api/v1/jobs/{job_id}/stdout").text
        head, _, tail = stdout.partition("bytes of output omitted here")
        assert head.startswith(f"{LINE}\n{LINE}\n")
        # head -c cut the last line short; the final `echo` ended it.
        assert tail.endswith(f"{LINE}\n{LINE[: PRINTED % (len(LINE) + 1)]}\n")
        assert http.get(f"/api/v1/jobs/{job_id}/stderr").text == "done\n"
        omitted = int(head.rsplit("[newremora: ", 1)[1].split()[0])
        assert omitted + job["output_bytes"] == PRINTED + 1 + len("done\n")
    grown_mib = (peak - rss_before) / 1024
    print(f"service RSS before {rss_before / 1024:.0f} MiB, peak during the job +{grown_mib:.0f} MiB")
    assert grown_mib < 100
