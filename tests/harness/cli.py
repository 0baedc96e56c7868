"""The ``newremora`` client run as a user runs it: a subprocess whose output is read as it comes."""

from __future__ import annotations

import contextlib
import os
import pty
import subprocess
import threading
from collections.abc import Mapping
from typing import IO

from tests.harness.service import NEWREMORA
from tests.harness.wait import wait_until


def client_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of a client process: no NEWREMORA_* of the test process, a HOME without a token file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWREMORA_") and k != "XDG_CONFIG_HOME"}
    env.update(extra)
    return env


def newremora(
    *args: str, env: Mapping[str, str], input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NEWREMORA, *args], env=client_env(env), input=input, capture_output=True, text=True, timeout=timeout
    )


def run_command(env: Mapping[str, str], cwd: str | os.PathLike[str], *args: str) -> str:
    """``newremora ARGS`` in ``cwd`` as an operator runs it on the server (``user create``, ``token create``...):
    it must succeed; its standard output."""
    done = subprocess.run([NEWREMORA, *args], env=client_env(env), cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


class ClientProcess:
    """A running client whose stdout and stderr are collected by threads, so a test can wait for a line while
    the process goes on. With ``stderr_tty`` its stderr is a terminal (a pseudo-terminal read by the test)."""

    def __init__(self, *args: str, env: Mapping[str, str], stderr_tty: bool = False) -> None:
        self.output = {"stdout": bytearray(), "stderr": bytearray()}
        self.lock = threading.Lock()
        terminal: int | None = None
        stderr: int | None = subprocess.PIPE
        if stderr_tty:
            master, terminal = pty.openpty()
            stderr = terminal
        self.process = subprocess.Popen(
            [NEWREMORA, *args], env=client_env(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
        )
        assert self.process.stdout is not None
        self.readers = [threading.Thread(target=self._pump, args=("stdout", self.process.stdout), daemon=True)]
        if terminal is not None:
            os.close(terminal)
            self.readers.append(threading.Thread(target=self._pump_terminal, args=(master,), daemon=True))
        else:
            assert self.process.stderr is not None
            self.readers.append(threading.Thread(target=self._pump, args=("stderr", self.process.stderr), daemon=True))
        for reader in self.readers:
            reader.start()

    def _pump(self, name: str, pipe: IO[bytes]) -> None:
        while chunk := pipe.read1(65536):  # type: ignore[attr-defined]
            with self.lock:
                self.output[name] += chunk

    def _pump_terminal(self, master: int) -> None:
        with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
            while chunk := os.read(master, 65536):
                with self.lock:
                    self.output["stderr"] += chunk
        os.close(master)

    def text(self, name: str) -> str:
        with self.lock:
            return self.output[name].decode(errors="replace")

    def wait_for(self, name: str, text: str, timeout: float = 90) -> None:
        """Until ``text`` has appeared on stdout or stderr; fail with what was printed at the deadline."""

        def printed_or_ended() -> bool:
            return text in self.text(name) or self.process.poll() is not None

        with contextlib.suppress(AssertionError):  # at the deadline the failure below says what was printed
            wait_until(printed_or_ended, timeout, f"{text!r} on {name}")
        if text in self.text(name):
            return
        if self.process.poll() is not None:  # ended: what it printed last may still be in the pipes
            for reader in self.readers:
                reader.join(timeout=10)
            if text in self.text(name):
                return
        self.process.kill()
        raise AssertionError(
            f"{text!r} not on {name} (exit {self.finish()}):\n"
            f"stdout: {self.text('stdout')!r}\nstderr: {self.text('stderr')!r}"
        )

    def finish(self, timeout: float = 90) -> int:
        """The exit code, once the process has ended and all its output is read."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        for reader in self.readers:
            reader.join(timeout=10)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()
        return code
