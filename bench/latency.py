"""Single-job latency on an idle service: from submitting `echo hi` to the client seeing it `completed`,
against one bare `ansible -m shell` ad-hoc run of the same command (process start to exit), in the same run.

usage: python -m bench.latency [--rounds 8]
Both sides are warmed once first (SSH master connections open, files cached), then measured in alternation.
The client watches the job's SSE stream, opened right after the submission, until its `complete` event.
Idle means no Ansible run of the service is alive (a run stays warm ~2 s after its last job): each sample
waits for that. A second job submitted right after the first (a warm run takes it) is reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import add_server, ansible_env, bare_ansible, machine, service, ssh_target
from bench.throughput import ansible_below
from tests.harness.sse import events
from tests.harness.sshd import SshTarget

COMMAND = "echo hi"


def bare_run(target: SshTarget) -> float:
    with tempfile.TemporaryDirectory() as workdir:
        argv = bare_ansible(target, "shell", COMMAND, Path(workdir))
        started = time.monotonic()
        subprocess.run(argv, env=ansible_env(), capture_output=True, timeout=120, check=True)
        return time.monotonic() - started


async def newremora_run(http: httpx.AsyncClient, server_id: str) -> float:
    started = time.monotonic()
    job = await http.post("/api/v1/jobs", json={"server_id": server_id, "command": COMMAND})
    job_id = job.json()["data"]["id"]
    status = None
    async with http.stream("GET", f"/api/v1/jobs/{job_id}/stream") as response:
        async for event in events(response):
            if event.name == "complete":
                status = event.json()["status"]
                break
    elapsed = time.monotonic() - started
    assert status == "completed", status
    return elapsed


def until_idle(pid: int) -> None:
    """Until the service has no Ansible process (nothing to be notified of: its processes are looked at)."""
    deadline = time.monotonic() + 60
    while ansible_below(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


async def measure(rounds: int) -> tuple[list[float], list[float], list[float]]:
    bare: list[float] = []
    ours: list[float] = []
    warm: list[float] = []
    with ssh_target() as target, service() as running:
        with httpx.Client(base_url=running.base_url, timeout=60) as setup:
            server_id = add_server(setup, target, "bench-latency")
        async with httpx.AsyncClient(base_url=running.base_url, timeout=60) as http:
            bare_run(target)
            await newremora_run(http, server_id)
            for _ in range(rounds):
                bare.append(bare_run(target))
                until_idle(running.process.pid)
                ours.append(await newremora_run(http, server_id))
                warm.append(await newremora_run(http, server_id))
    return bare, ours, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    print(f"# single-job latency, `{COMMAND}` on an idle service ({machine()})")
    bare, ours, warm = asyncio.run(measure(args.rounds))
    fmt = ", ".join
    print(f"bare ansible -m shell: median {statistics.median(bare):.2f} s ({fmt(f'{v:.2f}' for v in bare)})")
    print(f"NewRemora, submit to completed: median {statistics.median(ours):.2f} s ({fmt(f'{v:.2f}' for v in ours)})")
    print(f"ratio: NewRemora / bare ansible {statistics.median(ours) / statistics.median(bare):.2f}x (target <= 1.0x)")
    print(f"a second job right after (taken by the warm run): median {statistics.median(warm):.2f} s")


if __name__ == "__main__":
    main()
