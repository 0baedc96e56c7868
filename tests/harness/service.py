"""The real service: ``newremora serve`` in its own process, on a loopback port, behind Hypercorn."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.harness.net import free_port
from tests.harness.processes import kill_processes_mentioning
from tests.harness.wait import wait_until

READY_TIMEOUT = 30.0
NEWREMORA = str(Path(sys.executable).with_name("newremora"))


class Service:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path, workdir: Path) -> None:
        self.process = process
        self.workdir = workdir
        self.port = port
        self.log_path = log_path
        self.base_url = f"http://127.0.0.1:{port}"

    @classmethod
    def start(
        cls,
        workdir: Path,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = ("serve",),
        port: int | None = None,
    ) -> Service:
        """Start in ``workdir`` and wait until ``/health`` answers 200; fail with the service's log otherwise.

        Without NEWREMORA_DATA_DIR in ``env`` the service uses its default, ``./var`` of ``workdir``. ``port``
        restarts a service where its clients know it.
        """
        workdir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        log_path = workdir / f"service-{port}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("NEWREMORA_")}
        full_env.update({"NEWREMORA_HOST": "127.0.0.1", "NEWREMORA_PORT": str(port)})
        full_env.update(env or {})
        full_env["PATH"] = f"{Path(sys.executable).parent}:{full_env.get('PATH', '')}"
        with log_path.open("wb") as log:
            # Its own session: kill_all() can then take the service and every process it started, as a
            # container runtime or systemd does.
            process = subprocess.Popen(
                [NEWREMORA, *args],
                env=full_env,
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = cls(process, port, log_path, workdir)
        if args[0] == "serve":
            service.wait_ready()
        return service

    def wait_ready(self) -> None:
        def healthy() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"newremora serve exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.TransportError):
                return httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200
            return False

        try:
            wait_until(healthy, READY_TIMEOUT, "/health to answer 200")  # a process we do not control
        except AssertionError as timed_out:
            self.stop()
            raise RuntimeError(f"newremora serve did not become healthy:\n{self.log()}") from timed_out

    def wait_for_keys(self, anonymous_status: int, timeout: float = 30.0, key: str | None = None) -> None:
        """Until a request without ``key`` (or with it) answers ``anonymous_status`` (401 once a key made by
        another process, the CLI, counts here; 200 once the last one is revoked; 401 for a revoked ``key``):
        the service reads the live keys again at most once per second (app/apikeys.py, LIVE_KEYS_TTL_S)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        wait_until(
            lambda: httpx.get(f"{self.base_url}/api/v1/servers", headers=headers, timeout=10).status_code,
            timeout,
            f"/api/v1 to answer {anonymous_status}",
            done=lambda status: status == anonymous_status,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, as systemd or a container runtime would send; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill_all(self) -> None:
        """kill -9 of the service and all its children (its Ansible processes too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Whatever state it is in: gone, with everything it started (Ansible runs live in sessions of their
        own, found by the run directories in their command lines)."""
        if self.process.poll() is None:
            self.kill_all()
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        kill_processes_mentioning(str(self.workdir))
