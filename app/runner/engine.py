"""One ansible-runner run: the settings that matter, in one place (measured in docs/benchmarks.md)."""

from __future__ import annotations

import logging
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import ansible_runner

from app.runner.run_dir import RunDirectory
from app.runner.spec import RunnerConfig

log = logging.getLogger(__name__)

EventHandler = Callable[[dict[str, Any]], None]

# Big enough for one poll answer (two streams of chunk_bytes, base64, returned twice by `raw`).
MAX_EVENT_RES: Final = 8_000_000


@dataclass(frozen=True)
class RunOutcome:
    status: str  # successful | failed | canceled | timeout | error
    rc: int | None
    # The tail of ansible-playbook's own output, for errors that are not attached to a host.
    stdout_tail: str


def _playbook_wrapper(run_dir: RunDirectory) -> Path:
    """The ``ansible-playbook`` that ansible-runner finds first on PATH: the real one under app/runner/guard.py,
    so that no Ansible process outlives the service (see there)."""
    bin_dir = run_dir.path / "bin"
    bin_dir.mkdir(mode=0o700, exist_ok=True)
    wrapper = bin_dir / "ansible-playbook"
    python = shlex.quote(sys.executable)
    real = shlex.quote(str(Path(sys.executable).parent / "ansible-playbook"))
    wrapper.write_text(f'#!/bin/sh\nexec {python} -m app.runner.guard {real} "$@"\n')
    wrapper.chmod(0o700)
    return bin_dir


def _askpass(run_dir: RunDirectory) -> Path:
    """ssh's askpass helper (app/runner/secret_client.py): SSH_ASKPASS is one executable, without arguments."""
    helper = run_dir.path / "bin" / "nr-askpass"
    python, client = shlex.quote(sys.executable), shlex.quote(str(Path(__file__).with_name("secret_client.py")))
    helper.write_text(f'#!/bin/sh\nexec {python} -I {client} "$@"\n')
    helper.chmod(0o700)
    return helper


def _environment(config: RunnerConfig, run_dir: RunDirectory) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    bin_dir = _playbook_wrapper(run_dir)
    return {
        **run_dir.environment(),
        "NR_ASKPASS": str(_askpass(run_dir)),
        # Our connection (newremora_ssh) and lookup (newremora_secret) for every playbook, a user's too.
        "ANSIBLE_CONNECTION_PLUGINS": str(config.playbooks_dir / "connection_plugins"),
        "ANSIBLE_LOOKUP_PLUGINS": str(config.playbooks_dir / "lookup_plugins"),
        # ansible-runner starts ansible-playbook from PATH: our wrapper first, then the venv's (even when the
        # venv is not activated).
        "PATH": f"{bin_dir}:{venv_bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "ANSIBLE_SSH_USETTY": "False",  # a tty turns LF into CRLF and merges stderr into stdout
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_ARGS": f"-C -o ControlMaster=auto -o ControlPersist={config.control_persist_s}s",
        "ANSIBLE_TIMEOUT": str(config.connect_timeout_s),
        "ANSIBLE_GATHERING": "explicit",  # facts only for plays that ask for them (gather_facts: true)
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_SYSTEM_WARNINGS": "False",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        # The service renders every inventory as YAML (inventory_templates/): trying the other plugins first would
        # parse it twice (auto), each round of a run again (~30-80 ms for 32 jobs).
        "ANSIBLE_INVENTORY_ENABLED": "yaml",
        "ANSIBLE_HOST_PATTERN_MISMATCH": "ignore",
        "ANSIBLE_HOME": str(run_dir.path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(run_dir.path / "tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(config.control_dir),
        "MAX_EVENT_RES": str(MAX_EVENT_RES),
    }


def run_playbook(
    config: RunnerConfig,
    run_dir: RunDirectory,
    playbook: str | Path,
    inventory: Path,
    forks: int,
    on_event: EventHandler,
    should_stop: Callable[[], bool],
    *,
    extra_env: dict[str, str] | None = None,
    extra_vars_files: Sequence[Path] = (),
    timeout_s: int | None = None,
    stop_check_s: float | None = None,
) -> RunOutcome:
    """Run ``playbook`` (a name in the service's playbooks, or the path of a user's playbook).

    ``timeout_s`` ends the run at that age (status ``timeout``); ``stop_check_s`` is how often ``should_stop``
    is asked (ansible-runner's default is every 5 s, unless output arrives first)."""
    config.control_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = playbook if isinstance(playbook, Path) else config.playbooks_dir / playbook
    options: dict[str, Any] = {}
    if extra_vars_files:
        options["cmdline"] = shlex.join([word for path in extra_vars_files for word in ("--extra-vars", f"@{path}")])
    if timeout_s is not None:
        options["timeout"] = timeout_s
    if stop_check_s is not None:
        options["settings"] = {"pexpect_timeout": stop_check_s}

    def handle(event: dict[str, Any]) -> bool:
        try:
            on_event(event)
        except Exception:
            # An exception here would be swallowed by ansible-runner and stall the run's bookkeeping.
            log.exception("event handler failed")
        return False  # never write the event to disk: it may carry job output

    started = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(run_dir.path),
        playbook=str(path),
        inventory=str(inventory),
        envvars={**_environment(config, run_dir), **(extra_env or {})},
        forks=max(1, forks),
        quiet=True,
        suppress_env_files=True,
        event_handler=handle,
        # Passing a callback keeps ansible-runner from installing its own signal handlers.
        cancel_callback=should_stop,
        **options,
    )
    stdout_tail = ""
    try:
        with runner.stdout as playbook_output:
            stdout_tail = playbook_output.read()[-2000:]
    except (OSError, AttributeError):
        pass
    status, rc = str(runner.status), runner.rc
    if status != "successful":
        log.debug("ansible-runner ended %s rc=%s: %s", status, rc, stdout_tail[-1500:])
    outcome = RunOutcome(status=status, rc=rc, stdout_tail=stdout_tail)
    if config.observe_run is not None:
        try:
            config.observe_run(Path(playbook).stem, outcome.status, time.monotonic() - started)
        except Exception:
            log.exception("run observer failed")  # a figure lost, never a run
    return outcome
