"""The runner's settings, read from the service's: where runs and SSH control sockets live, and the playbooks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from app.errors import ConfigurationError
from app.runner.spec import RunnerConfig, RunObserver
from app.settings import Settings

# The service's own playbooks (run_jobs.yml and its rounds, the connectivity check, kill.yml).
PLAYBOOKS_DIR: Final = Path(__file__).resolve().parents[2] / "playbooks"
# sun_path holds 108 bytes; ssh adds "/" + our 32-character digest + a 17-character temporary suffix.
MAX_CONTROL_DIR_LENGTH: Final = 107 - 1 - 32 - 17
# A run's secret socket and ssh-agent socket are RUNS_DIR/run-PID-XXXXXXXX/s and /a (PID: up to 7 digits).
MAX_RUNS_DIR_LENGTH: Final = 107 - len("/run-4194304-XXXXXXXX/a")


def runner_config(settings: Settings, observe_run: RunObserver | None = None) -> RunnerConfig:
    """Refuses a control socket directory that ssh could not use (called at start, so it fails early)."""
    control_dir = settings.control_dir or Path(f"/tmp/newremora-ssh-{os.getuid()}")  # noqa: S108 (0700, per uid)
    control_dir = control_dir.absolute()
    if len(str(control_dir)) > MAX_CONTROL_DIR_LENGTH:
        raise ConfigurationError(
            f"NEWREMORA_CONTROL_DIR: {control_dir} is too long for SSH control sockets "
            f"({MAX_CONTROL_DIR_LENGTH} characters at most)"
        )
    runs_dir = settings.data_dir.absolute() / "runs"
    if len(str(runs_dir)) > MAX_RUNS_DIR_LENGTH:
        raise ConfigurationError(
            f"NEWREMORA_DATA_DIR: {settings.data_dir.absolute()} is too long for the UNIX sockets of a run "
            f"({MAX_RUNS_DIR_LENGTH - len('/runs')} characters at most)"
        )
    return RunnerConfig(
        runs_dir=runs_dir,
        control_dir=control_dir,
        playbooks_dir=PLAYBOOKS_DIR,
        kill_grace_s=settings.kill_grace,
        observe_run=observe_run,
    )
