"""Throughput: N jobs (`true`) over 4 servers submitted at once, until all are finished, against the same
commands as bare `ansible -m shell` ad-hoc runs, 2 at a time (the baseline), in the same run.

usage: python -m bench.throughput [--jobs 200] [--baseline-jobs 40]
The baseline runs a sample of --baseline-jobs commands and extrapolates to N (its cost per job is constant).
CPU-seconds are those of the service and all its children (ansible-playbook and ssh included), and of the
ansible processes for the baseline, read from the kernel's accounting of finished children.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.common import add_server, ansible_env, bare_ansible, four_targets, load_average, machine, service
from tests.harness.sshd import SshTarget


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def baseline(targets: list[SshTarget], jobs: int) -> tuple[float, float]:
    """Wall seconds and CPU-seconds of `jobs` bare ad-hoc runs, 2 at a time."""
    # Each run's inventory and password file: removed with the directory, never left on disk.
    with tempfile.TemporaryDirectory(prefix="nr-bench-ansible-") as name:
        workdir = Path(name)
        for i in range(jobs):
            (workdir / str(i)).mkdir()
        commands = [bare_ansible(targets[i % 4], "shell", "true", workdir / str(i)) for i in range(jobs)]
        cpu_before, started = children_cpu(), time.monotonic()
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(
                pool.map(
                    lambda argv: subprocess.run(argv, env=ansible_env(), capture_output=True, timeout=300), commands
                )
            )
        assert all(r.returncode == 0 for r in results), results[0].stderr
        return time.monotonic() - started, children_cpu() - cpu_before


def service_cpu(pid: int, children: bool = True) -> float:
    """CPU-seconds of the service and (unless told otherwise) its children that have ended (from /proc, in
    clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / 100


def ansible_below(pid: int) -> bool:
    """Whether an Ansible process of the service is still running."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"ansible" in (entry / "cmdline").read_bytes():
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                while parent > 1:
                    if parent == pid:
                        return True
                    parent = int(Path(f"/proc/{parent}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return False


def ansible_runs(http: httpx.Client, pid: int) -> int:
    """How many ansible-runner runs of jobs the service started (from its /metrics: a run is counted when
    ansible-runner has returned, a little after its processes have ended, so the count is read until it holds
    still with no Ansible process left)."""

    def counted() -> int:
        total = 0.0
        for line in http.get("/metrics").text.splitlines():
            if line.startswith("newremora_ansible_run_duration_seconds_count") and 'playbook="run_jobs"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    deadline, last = time.monotonic() + 10, -1
    while True:
        total = counted()
        if (total == last and total > 0 and not ansible_below(pid)) or time.monotonic() > deadline:
            return total
        last = total
        time.sleep(0.2)


def through_newremora(base_url: str, pid: int, servers: list[str], jobs: int) -> tuple[float, float]:
    with httpx.Client(base_url=base_url, timeout=60) as http:
        cpu_before, own_before, started = service_cpu(pid), service_cpu(pid, children=False), time.monotonic()
        ids = [
            http.post("/api/v1/jobs", json={"server_id": servers[i % 4], "command": "true"}).json()["data"]["id"]
            for i in range(jobs)
        ]
        while True:
            counts = http.get("/api/v1/system/info").json()["data"]
            if counts["queued_jobs"] == 0 and counts["running_jobs"] == 0:
                break
            time.sleep(0.1)
        wall = time.monotonic() - started
        # The runs' own CPU is counted once they have ended (a warm run outlives its last job by a few seconds;
        # a child's CPU reaches its parent's account when it is waited for).
        deadline = time.monotonic() + 60
        while ansible_below(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        # A run is counted once ansible-runner has waited for its process: only then is that process's CPU in the
        # service's account (an ended process no longer shows as Ansible in /proc, but until it is waited for its
        # CPU is nobody's: read before, the total once missed the runs' ~10 CPU-s).
        runs = ansible_runs(http, pid)
        cpu = service_cpu(pid) - cpu_before
        print(f"of which the service process itself: {service_cpu(pid, children=False) - own_before:.1f} CPU-s")
        print(f"Ansible runs that carried them: {runs}")
        results = [http.get(f"/api/v1/jobs/{job_id}").json()["data"] for job_id in ids]
    finished = [result["status"] for result in results]
    errors = {str(result["error"])[:300] for result in results if result["status"] != "completed"}
    assert finished == ["completed"] * jobs, ({s: finished.count(s) for s in set(finished)}, errors)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--baseline-jobs", type=int, default=40)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--batch-size", type=int, help="NEWREMORA_BATCH_SIZE (default: the service's)")
    args = parser.parse_args()
    print(f"# throughput: {args.jobs} jobs `true` over 4 servers ({machine()}; {load_average()})")
    with four_targets() as targets:
        base_wall, base_cpu = baseline(targets, args.baseline_jobs)
        scale = args.jobs / args.baseline_jobs
        env = {"NEWREMORA_WORKERS": str(args.workers)}
        if args.batch_size:
            env["NEWREMORA_BATCH_SIZE"] = str(args.batch_size)
        with service(env) as running:
            with httpx.Client(base_url=running.base_url, timeout=30) as http:
                servers = [add_server(http, target, f"bench-{i}") for i, target in enumerate(targets)]
            wall, cpu = through_newremora(running.base_url, running.process.pid, servers, args.jobs)
    base_wall_n, base_cpu_n = base_wall * scale, base_cpu * scale
    print(
        f"bare ansible, 2 at a time: {args.baseline_jobs} jobs in {base_wall:.1f} s, {base_cpu:.1f} CPU-s "
        f"(x{scale:.0f}: {base_wall_n:.0f} s, {base_cpu_n / args.jobs:.2f} CPU-s/job, "
        f"{args.jobs / base_wall_n:.2f} jobs/s)"
    )
    print(
        f"NewRemora (workers {args.workers}, batch {args.batch_size or 'default'}): {args.jobs} jobs in {wall:.1f} s, "
        f"{cpu:.1f} CPU-s ({cpu / args.jobs:.2f} CPU-s/job, {args.jobs / wall:.2f} jobs/s)"
    )
    print(f"ratios: wall {base_wall_n / wall:.1f}x faster, CPU per job 1/{base_cpu_n / max(cpu, 1e-6):.1f}")


if __name__ == "__main__":
    main()
