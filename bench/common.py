"""What every benchmark needs: a throwaway sshd and the service, on loopback only."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.harness.service import Service
from tests.harness.sshd import Sshd, SshTarget, ensure_test_user, remove_test_user


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    cores = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    return f"{cores} cores, {cpu}, Python {platform.python_version()}"


def process_cpu(pid: int, ended_children: bool = True) -> float:
    """CPU-seconds of a process (all its threads) and, unless told otherwise, of its children that have ended
    (the kernel adds those when they are reaped), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if ended_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU-seconds of a process and all its descendants, the living and the ended ones."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # ended meanwhile
            parents.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += process_cpu(current)
        except OSError:
            continue  # ended meanwhile: its time is now in its parent's count of ended children
        todo.extend(parents.get(current, []))
    return total


def load_average() -> str:
    """The machine's load (1, 5, 15 min): benchmarks on a shared machine are disturbed by it; say how much."""
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values) * 1000:.0f} ms, p95 {percentile(values, 0.95) * 1000:.0f} ms, "
        f"max {max(values) * 1000:.0f} ms (n={len(values)})"
    )


@contextlib.contextmanager
def ssh_target() -> Iterator[SshTarget]:
    workdir = Path(tempfile.mkdtemp(prefix="nr-bench-"))
    user = ensure_test_user(workdir / "user", name="nrtbench")
    server = Sshd.start(workdir / "sshd", user)
    try:
        yield server.target
    finally:
        server.stop()
        remove_test_user(user)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def four_targets() -> Iterator[list[SshTarget]]:
    workdir = Path(tempfile.mkdtemp(prefix="nr-bench-"))
    user = ensure_test_user(workdir / "user", name="nrtbench")
    servers = [Sshd.start(workdir / f"sshd-{i}", user) for i in range(4)]
    try:
        yield [server.target for server in servers]
    finally:
        for server in servers:
            server.stop()
        remove_test_user(user)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def service(env: dict[str, str] | None = None) -> Iterator[Service]:
    workdir = Path(tempfile.mkdtemp(prefix="nr-bench-service-"))
    control_dir = tempfile.mkdtemp(prefix="nrcp-")
    base = {
        "NEWREMORA_CONTROL_DIR": control_dir,
        "NEWREMORA_LOG_LEVEL": "warning",
        # Benchmarks load the API from one address on purpose.
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_JOB_RATE_LIMIT": "0",
    }
    try:
        started = Service.start(workdir, {**base, **(env or {})})
        try:
            yield started
        finally:
            started.stop()
    finally:
        # Its data (a benchmark's database can be 100,000 jobs) and its log go with it.
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(control_dir, ignore_errors=True)


def add_server(http: httpx.Client, target: SshTarget, name: str) -> str:
    response = http.post(
        "/api/v1/servers",
        json=target.server_body(name),
    )
    response.raise_for_status()
    return str(response.json()["data"]["id"])


def ssh_command(target: SshTarget, command: str) -> list[str]:
    """Plain ssh with the same password, for baselines (host key not checked: a throwaway loopback sshd)."""
    return [
        "sshpass",
        "-e",
        "ssh",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "LogLevel=ERROR",
        "-p",
        str(target.port),
        f"{target.user.name}@{target.host}",
        command,
    ]


def bare_ansible(target: SshTarget, module: str, argument: str, workdir: Path) -> list[str]:
    """The command line of one bare ad-hoc `ansible` run against the target (its password in a vars file)."""
    inventory = workdir / "inventory.ini"
    inventory.write_text(
        f"target ansible_host={target.host} ansible_port={target.port} ansible_user={target.user.name}\n"
    )
    secrets = workdir / "password.json"
    secrets.write_text(f'{{"ansible_password": "{target.user.password}"}}')
    secrets.chmod(0o600)
    return ["ansible", "target", "-i", str(inventory), "-e", f"@{secrets}", "-m", module, "-a", argument]


def ansible_env() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_GATHERING": "explicit",
    }
