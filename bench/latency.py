"""Single-job latency on an idle service: from submitting `echo hi` to the client seeing it `completed`,
against one bare `ansible -m shell` ad-hoc run of the same command (process start to exit), in the same run.

usage: python -m bench.latency [--rounds 8]
Both sides are warmed once first (SSH master connections open, files cached), then measured in alternation.
The client watches the job's SSE stream, opened right after the submission, until its `complete` event.
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


async def measure(rounds: int) -> tuple[list[float], list[float]]:
    bare: list[float] = []
    ours: list[float] = []
    with ssh_target() as target, service() as running:
        with httpx.Client(base_url=running.base_url, timeout=60) as setup:
            server_id = add_server(setup, target, "bench-latency")
        async with httpx.AsyncClient(base_url=running.base_url, timeout=60) as http:
            bare_run(target)
            await newremora_run(http, server_id)
            for _ in range(rounds):
                bare.append(bare_run(target))
                ours.append(await newremora_run(http, server_id))
    return bare, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    print(f"# single-job latency, `{COMMAND}` on an idle service ({machine()})")
    bare, ours = asyncio.run(measure(args.rounds))
    fmt = ", ".join
    print(f"bare ansible -m shell: median {statistics.median(bare):.2f} s ({fmt(f'{v:.2f}' for v in bare)})")
    print(f"NewRemora, submit to completed: median {statistics.median(ours):.2f} s ({fmt(f'{v:.2f}' for v in ours)})")
    print(f"ratio: NewRemora / bare ansible {statistics.median(ours) / statistics.median(bare):.2f}x (target <= 1.0x)")


if __name__ == "__main__":
    main()
