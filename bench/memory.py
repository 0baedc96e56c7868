"""Memory of concurrent jobs: N jobs (`sleep`) running at once over 4 servers; peak memory of the service and
every process it started, against N concurrent bare `ansible -m shell` runs of the same command, same run.
Also the cost of one silent running job: memory above the idle service, and controller CPU per second.

usage: python -m bench.memory [--jobs 16] [--seconds 12]
Memory is the proportional set size (PSS: shared pages split between the processes sharing them, so the sum
over a group of processes is what that group costs), sampled every 50 ms over each side's processes: the
service's session and descendants; each bare run's session and descendants. SSH master connections are
counted on both sides when they stay in the session.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.common import add_server, ansible_env, bare_ansible, four_targets, machine, service


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def processes_of(roots: set[int]) -> set[int]:
    """The roots, every process in their sessions, and all their descendants."""
    parent: dict[int, int] = {}
    session: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = _stat_fields(int(entry))
            except OSError:
                continue
            parent[int(entry)], session[int(entry)] = int(fields[1]), int(fields[3])
    found = {pid for pid in parent if pid in roots or session[pid] in roots}
    grew = True
    while grew:
        more = {pid for pid, ppid in parent.items() if ppid in found and pid not in found}
        found |= more
        grew = bool(more)
    return found


def pss_bytes(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            continue  # ended meanwhile
    return total


class PeakSampler:
    def __init__(self, roots: set[int]) -> None:
        self.roots = roots
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, pss_bytes(processes_of(self.roots)))
            self._stop.wait(0.05)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def tree_cpu(roots: set[int]) -> float:
    """CPU-seconds used so far by the live processes (and their waited-for children)."""
    total = 0
    for pid in processes_of(roots):
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return total / os.sysconf("SC_CLK_TCK")


def mib(value: float) -> str:
    return f"{value / 2**20:.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=12)
    args = parser.parse_args()
    command = f"sleep {args.seconds}"
    print(f"# memory: {args.jobs} concurrent jobs `{command}` over 4 servers ({machine()})")
    with four_targets() as targets:
        # Each run's inventory and password file: removed with the directory, never left on disk.
        with tempfile.TemporaryDirectory(prefix="nr-bench-memory-") as name:
            workdir = Path(name)
            argvs = []
            for i in range(args.jobs):
                (workdir / str(i)).mkdir()
                argvs.append(bare_ansible(targets[i % 4], "shell", command, workdir / str(i)))
            runs = [
                subprocess.Popen(
                    argv,
                    env=ansible_env(),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                for argv in argvs
            ]
            with PeakSampler({run.pid for run in runs}) as bare:
                assert all(run.wait(timeout=300) == 0 for run in runs)

        with service() as running, httpx.Client(base_url=running.base_url, timeout=60) as http:
            servers = [add_server(http, target, f"bench-{i}") for i, target in enumerate(targets)]
            service_roots = {running.process.pid}
            idle = pss_bytes(processes_of(service_roots))
            with PeakSampler(service_roots) as ours:
                ids = [
                    http.post("/api/v1/jobs", json={"server_id": servers[i % 4], "command": command}).json()["data"][
                        "id"
                    ]
                    for i in range(args.jobs)
                ]
                while http.get("/api/v1/system/info").json()["data"]["running_jobs"] < args.jobs:
                    time.sleep(0.1)
                # Steady state: every job started and silent; what does holding them cost per second?
                time.sleep(2)
                cpu_before, window_start = tree_cpu(service_roots), time.monotonic()
                time.sleep(args.seconds / 3)
                cpu_per_s = (tree_cpu(service_roots) - cpu_before) / (time.monotonic() - window_start)
                while any(
                    http.get(f"/api/v1/jobs/{job_id}").json()["data"]["status"] in ("queued", "starting", "running")
                    for job_id in ids
                ):
                    time.sleep(0.2)
            statuses = {http.get(f"/api/v1/jobs/{job_id}").json()["data"]["status"] for job_id in ids}
            assert statuses == {"completed"}, statuses

    print(f"{args.jobs} bare ansible runs at once: peak {mib(bare.peak)} (PSS)")
    print(f"NewRemora with {args.jobs} jobs running: peak {mib(ours.peak)} (idle service: {mib(idle)})")
    print(
        f"per silent running job: {mib((ours.peak - idle) / args.jobs)} above idle, "
        f"{cpu_per_s / args.jobs * 1000:.1f} ms of controller CPU per second"
    )
    print(f"ratio: NewRemora / bare ansible {ours.peak / bare.peak:.2f} (target <= 0.25)")


if __name__ == "__main__":
    main()
