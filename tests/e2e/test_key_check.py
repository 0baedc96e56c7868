"""Nodes of one PostgreSQL deployment, each with its own key file (no NEWREMORA_SECRET_KEY): the first writes
the key check value, and `newremora serve` and `newremora worker` of the others stop at start with one line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.harness.service import NEWREMORA, Service


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NEWREMORA, *command], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_a_node_with_its_own_key_file_refuses_to_start(
    tmp_path: Path, pg_env: dict[str, str], services: list[Service]
) -> None:
    shared = {k: v for k, v in pg_env.items() if k != "NEWREMORA_SECRET_KEY"}
    first = tmp_path / "first"
    first.mkdir()
    service = Service.start(first, shared)  # creates first/var/secret.key and writes the check value with it
    services.append(service)

    for command in (["serve"], ["worker", "--threads", "1"]):
        other = tmp_path / command[0]
        other.mkdir()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWREMORA_")}
        env = {**clean, **shared, "NEWREMORA_DATA_DIR": str(other / "var")}
        refused = run(command, env, other)
        assert refused.returncode == 2, refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert lines[0].startswith(f"newremora: the key file {other / 'var' / 'secret.key'} cannot decrypt")
        assert "set NEWREMORA_SECRET_KEY to the deployment's key" in lines[0]
    assert service.terminate() == 0
