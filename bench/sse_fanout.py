"""SSE fan-out: CLIENTS streams on one job printing LINES lines, against the same job with one stream (the
baseline, same run, same sshd), so the cost of each extra client shows.

usage: python -m bench.sse_fanout [--clients 200] [--lines 1000] [--interval 0.01]

The job (a real run through Ansible against a throwaway sshd) waits until every stream is open, then prints
LINES lines, one every INTERVAL seconds. Every client must receive every line, in order (asserted). Measured
from the moment the job is let go until the last client has its `complete` event: wall time, the CPU-seconds
of the service process itself (its threads: HTTP, streams, database, the Ansible event handler; not its Ansible
child processes, which cost the same whoever watches) and of this client process (one asyncio loop reading
every stream with plain sockets), and the output events delivered.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import add_server, load_average, machine, process_cpu, service, ssh_target
from bench.sse_client import Received, read_stream

CONNECT_BATCH = 50  # streams opened at once (the listen backlog is 100)
OPEN_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class FanOut:
    clients: int
    wall: float
    service_cpu: float
    client_cpu: float
    events: int  # output events delivered, over all clients
    events_per_client: int

    def describe(self) -> str:
        return (
            f"{self.clients:4d} client(s): {self.wall:5.1f} s wall; service {self.service_cpu:6.2f} CPU-s "
            f"({self.service_cpu / self.wall * 100:3.0f}% of a core), "
            f"{self.service_cpu / self.events * 1e6:6.0f} CPU-us per delivered event; "
            f"{self.events_per_client} output events per client, {self.events} delivered; "
            f"client {self.client_cpu:5.2f} CPU-s ({self.client_cpu / self.wall * 100:3.0f}% of a core)"
        )


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def job_command(go: Path, lines: int, interval: float) -> str:
    """Waits for the go file (every stream open), then prints the numbered lines."""
    return (
        f"while [ ! -e {go} ]; do sleep 0.05; done; "
        f'for i in $(seq 1 {lines}); do echo "line $i"; sleep {interval}; done'
    )


async def watch(
    base_url: str, job_id: str, clients: int, let_go: Callable[[], None], pid: int
) -> tuple[list[Received], float, float, float]:
    """Open every stream, let the job go, read until every stream completes: (received, wall, service CPU,
    client CPU)."""
    host, port = base_url.removeprefix("http://").split(":")
    opened = 0
    all_open = asyncio.Event()

    def on_open() -> None:
        nonlocal opened
        opened += 1
        if opened == clients:
            all_open.set()

    path = f"/api/v1/jobs/{job_id}/stream"
    tasks: list[asyncio.Task[Received]] = []
    for start in range(0, clients, CONNECT_BATCH):
        batch = [
            asyncio.create_task(read_stream(host, int(port), path, on_open))
            for _ in range(min(CONNECT_BATCH, clients - start))
        ]
        tasks += batch
        await asyncio.sleep(0)  # let this batch connect before the next one
    await asyncio.wait_for(all_open.wait(), OPEN_TIMEOUT_S)
    service_before, client_before, started = process_cpu(pid, ended_children=False), own_cpu(), time.monotonic()
    let_go()
    received = await asyncio.gather(*tasks)
    wall = time.monotonic() - started
    return received, wall, process_cpu(pid, ended_children=False) - service_before, own_cpu() - client_before


def fan_out(base_url: str, pid: int, server_id: str, home: Path, clients: int, args: argparse.Namespace) -> FanOut:
    go = home / f"nr-bench-go-{uuid.uuid4().hex}"
    with httpx.Client(base_url=base_url, timeout=60) as http:
        response = http.post(
            "/api/v1/jobs",
            json={"server_id": server_id, "command": job_command(go, args.lines, args.interval), "timeout": 600},
        )
        response.raise_for_status()
        job_id = response.json()["data"]["id"]
    try:
        received, wall, service_cpu, client_cpu = asyncio.run(watch(base_url, job_id, clients, go.touch, pid))
    finally:
        go.unlink(missing_ok=True)
    expected = "".join(f"line {i}\n" for i in range(1, args.lines + 1))
    for number, one in enumerate(received):
        assert one.complete is not None, number
        assert one.complete["status"] == "completed", (number, one.complete)
        assert one.text == expected, f"client {number}: {one.text.count(chr(10))} of {args.lines} lines"
    counts = {one.output_events for one in received}
    assert len(counts) == 1, f"clients received different numbers of events: {sorted(counts)}"
    return FanOut(clients, wall, service_cpu, client_cpu, sum(one.output_events for one in received), counts.pop())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between two printed lines")
    args = parser.parse_args()
    if args.clients < 2:
        parser.error("--clients: at least 2 (the baseline is 1)")
    print(
        f"# SSE fan-out: {args.lines} lines, one every {args.interval} s, to 1 then {args.clients} clients "
        f"({machine()}); {load_average()}"
    )
    with ssh_target() as target, service({"NEWREMORA_WORKERS": "1"}) as running:
        with httpx.Client(base_url=running.base_url, timeout=30) as http:
            server_id = add_server(http, target, "bench-fanout")
        pid = running.process.pid
        results = []
        for clients in (1, args.clients):
            results.append(fan_out(running.base_url, pid, server_id, target.user.home, clients, args))
            print(f"{results[-1].describe()}; {load_average()}")
    one, many = results
    extra, extra_cpu = many.clients - one.clients, many.service_cpu - one.service_cpu
    print(
        f"every client received all {args.lines} lines. Per extra client: "
        f"{extra_cpu / extra * 1000:.1f} CPU-ms of the service "
        f"({extra_cpu / max(many.events - one.events, 1) * 1e6:.0f} CPU-us per extra event); "
        f"wall {many.wall / one.wall:.2f}x the single client's; {load_average()}"
    )


if __name__ == "__main__":
    main()
