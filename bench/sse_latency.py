"""Live output latency: from a line printed on the target to the SSE client, against plain ssh.

usage: python -m bench.sse_latency [--interval 0.1] [--duration 10]
The job prints a line stamped with the time it was printed (same machine, same clock) every INTERVAL seconds
for DURATION seconds. Baseline, in the same run: the same command through one plain `ssh` whose stdout is
read line by line (the floor: no Ansible, no service), and one bare `ansible -m shell` run, which returns the
output only when the command ends (what Ansible alone gives).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import add_server, ansible_env, bare_ansible, machine, service, ssh_command, ssh_target, summary
from tests.harness.sse import events
from tests.harness.sshd import SshTarget


def ticker(interval: float, duration: float) -> str:
    count = int(duration / interval)
    return f'for i in $(seq 1 {count}); do echo "$i $(date +%s.%N)"; sleep {interval}; done'


def baseline(target: SshTarget, command: str) -> list[float]:
    env = {**os.environ, "SSHPASS": target.user.password}
    delays = []
    with subprocess.Popen(ssh_command(target, command), stdout=subprocess.PIPE, text=True, env=env) as ssh:
        assert ssh.stdout is not None
        for line in ssh.stdout:
            delays.append(time.time() - float(line.split()[1]))
    return delays


def bare_ansible_delays(target: SshTarget, command: str) -> list[float]:
    with tempfile.TemporaryDirectory() as workdir:
        argv = bare_ansible(target, "shell", command, Path(workdir))
        result = subprocess.run(argv, env=ansible_env(), capture_output=True, text=True, timeout=600, check=True)
    arrived = time.time()
    stamps = [float(line.split()[1]) for line in result.stdout.splitlines() if line[:1].isdigit()]
    return [arrived - stamp for stamp in stamps]


async def through_newremora(base_url: str, server_id: str, command: str) -> list[float]:
    delays = []
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        job = await http.post("/api/v1/jobs", json={"server_id": server_id, "command": command})
        job_id = job.json()["data"]["id"]
        async with http.stream("GET", f"/api/v1/jobs/{job_id}/stream") as response:
            async for event in events(response):
                if event.name == "output":
                    for line in event.json()["content"].splitlines():
                        delays.append(event.arrived - float(line.split()[1]))
                elif event.name == "complete":
                    break
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    command = ticker(args.interval, args.duration)
    print(f"# live output latency: a line every {args.interval} s for {args.duration} s ({machine()})")
    with ssh_target() as target, service({"NEWREMORA_WORKERS": "2"}) as running:
        with httpx.Client(base_url=running.base_url, timeout=30) as http:
            server_id = add_server(http, target, "bench-sse")
        base = baseline(target, command)
        ansible = bare_ansible_delays(target, command)
        ours = asyncio.run(through_newremora(running.base_url, server_id, command))
    ours_p50 = statistics.median(ours)
    print(f"plain ssh (baseline):   {summary(base)}")
    print(f"bare ansible -m shell:  {summary(ansible)}")
    print(f"NewRemora SSE:          {summary(ours)}")
    print(
        f"p50 ratios: NewRemora / plain ssh {ours_p50 / max(statistics.median(base), 1e-6):.0f}x, "
        f"NewRemora / bare ansible {ours_p50 / statistics.median(ansible):.3f}x; "
        f"lines received {len(ours)} of {len(base)}"
    )


if __name__ == "__main__":
    main()
