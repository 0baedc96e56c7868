"""The private directory of one run and the inventory rendered into it from ``inventory_templates/``."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import tempfile
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Final

import jinja2

from app.runner.spec import RunnerConfig, Target

INVENTORY_TEMPLATE: Final = Path(__file__).resolve().parents[2] / "inventory_templates" / "hosts.yml.j2"
# Variable names are ours, never a user's; anything else would be a bug worth stopping for.
IDENTIFIER: Final = re.compile(r"[a-z_][a-z0-9_]*")
# Host aliases are ours (job_<id>) or a server's name (validated, and quoted in the template).
HOST_ALIAS: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")

HostVars = dict[str, str | int | bool]


@cache
def _template() -> jinja2.Template:
    # YAML, not HTML: every value is escaped by tojson in the template itself.
    environment = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)  # noqa: S701
    return environment.from_string(INVENTORY_TEMPLATE.read_text())


def _check_names(host_vars: HostVars) -> None:
    for name in host_vars:
        if not IDENTIFIER.fullmatch(name):
            raise ValueError(f"not an inventory identifier: {name!r}")


def render_inventory(hosts: dict[str, HostVars], group: str | None = None, run_vars: HostVars | None = None) -> str:
    """The inventory of the hosts, also members of ``group`` when one is given; ``run_vars`` are variables of
    every host."""
    if group is not None and not IDENTIFIER.fullmatch(group):
        raise ValueError(f"not an inventory identifier: {group!r}")
    _check_names(run_vars or {})
    for alias, host_vars in hosts.items():
        if not HOST_ALIAS.fullmatch(alias):
            raise ValueError(f"not an inventory host alias: {alias!r}")
        _check_names(host_vars)
    return _template().render(hosts=hosts, group=group, run_vars=run_vars)


def job_alias(job_id: str) -> str:
    return "job_" + job_id.replace("-", "_")


def _file_key(target: Target) -> str:
    """Names a target's files in a run directory. A run lives across rounds of jobs (app/runner/jobs.py), and a
    server whose address, credential or trusted key changed meanwhile must not meet its old files: the keyed
    digest of all of these (never a secret itself) is part of the name."""
    return f"{target.server_id}_{target.credential_digest}" if target.credential_digest else target.server_id


def server_alias(server_id: str) -> str:
    return "server_" + server_id.replace("-", "_")


def known_hosts_line(target: Target) -> str:
    host = target.hostname if target.port == 22 else f"[{target.hostname}]:{target.port}"
    return f"{host} {target.host_key}\n"


class RunDirectory:
    """A 0700 directory for one ansible-runner run; key material lives here only while the run lasts."""

    def __init__(self, config: RunnerConfig) -> None:
        config.runs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.config = config
        # The pid in the name lets a later start remove what a killed process left (remove_stale_runs).
        self.path = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=config.runs_dir))
        self._secrets = self.path / "secrets"
        self._secrets.mkdir(mode=0o700)

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.remove()

    def remove(self) -> None:
        # Ansible's forks run in sessions of their own: when a run was cut short, some may still be alive.
        _kill_processes_using([self.path])
        shutil.rmtree(self.path, ignore_errors=True)

    def _private_file(self, name: str, text: str) -> Path:
        path = self._secrets / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        return path

    def known_hosts_path(self, target: Target) -> Path:
        return self._secrets / f"known_hosts_{_file_key(target)}"

    def connection_vars(self, target: Target) -> HostVars:
        """Connection variables that let this target be reached with its own credential and nothing else."""
        known_hosts = self.known_hosts_path(target)
        if not known_hosts.exists():
            self._private_file(known_hosts.name, known_hosts_line(target) if target.host_key else "")
        options = [
            f"UserKnownHostsFile={known_hosts}",
            "GlobalKnownHostsFile=/dev/null",
            # Trust on first use; a changed key is refused ("REMOTE HOST IDENTIFICATION HAS CHANGED").
            "StrictHostKeyChecking=accept-new",
            "IdentityAgent=none",
            "IdentitiesOnly=yes",
            f"ConnectTimeout={self.config.connect_timeout_s}",
            "ServerAliveInterval=15",
        ]
        host_vars: HostVars = {
            "ansible_connection": "ssh",
            "ansible_host": target.hostname,
            "ansible_port": target.port,
            "ansible_user": target.user,
            "ansible_control_path": str(self.config.control_dir / target.credential_digest),
        }
        if target.private_key is not None:
            key_file = self._secrets / f"key_{_file_key(target)}"
            if not key_file.exists():
                self._private_file(key_file.name, target.private_key)
            host_vars["ansible_ssh_private_key_file"] = str(key_file)
            options += ["PasswordAuthentication=no", "KbdInteractiveAuthentication=no"]
        else:
            host_vars["ansible_password"] = target.password or ""
            options += ["PubkeyAuthentication=no"]
        host_vars["ansible_ssh_common_args"] = shlex.join(arg for option in options for arg in ("-o", option))
        if target.become_user is not None:
            # Every task of the host (start, poll, kill, clean up) runs as the become user, so the job's
            # directory, its processes and the signals of a cancel all belong to that one user. sudo reads
            # the password on stdin (Ansible answers its prompt), never from argv.
            host_vars["ansible_become"] = True
            host_vars["ansible_become_method"] = "sudo"
            host_vars["ansible_become_user"] = target.become_user
            if target.become_password is not None:
                host_vars["ansible_become_password"] = target.become_password
        if target.python_interpreter is not None:
            host_vars["ansible_python_interpreter"] = target.python_interpreter
        return host_vars

    def learned_host_key(self, target: Target) -> str | None:
        """The key ssh accepted on first use during this run, as "TYPE BASE64"."""
        if target.host_key is not None:
            return None
        try:
            lines = self.known_hosts_path(target).read_text().splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            fields = line.split()
            if len(fields) >= 3 and not line.startswith("#"):
                return f"{fields[1]} {fields[2]}"
        return None

    def write_inventory(
        self, hosts: dict[str, HostVars], group: str | None = None, run_vars: HostVars | None = None
    ) -> Path:
        """The run's inventory (credentials inside: 0600). Written again for each round of a run, whole or not
        at all: Ansible may read it at any time (``meta: refresh_inventory``)."""
        path = self.path / "inventory.yml"
        temporary = self.path / ".inventory.yml.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(render_inventory(hosts, group, run_vars))
        temporary.rename(path)
        return path


def remove_stale_runs(runs_dir: Path) -> int:
    """End what a killed service left: its Ansible processes (they run in sessions of their own, so they
    outlive it, blocked on output nobody reads) and its run directories (they may hold key material)."""
    stale = [
        path
        for path in runs_dir.glob("run-*-*")
        if path.name.split("-")[1].isdigit() and not Path(f"/proc/{path.name.split('-')[1]}").exists()
    ]
    if stale:
        _kill_processes_using(stale)
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return len(stale)


def _kill_processes_using(paths: list[Path]) -> None:
    """SIGKILL to the processes still using these run directories: ansible-playbook, its forks, and the ssh
    clients of their sessions (their command lines name the run's known_hosts file). Never an ssh master:
    one started by this run is shared by later runs of the same server and credential (ssh renames it
    "ssh: PATH [mux]", so its command line no longer names the run)."""
    needles = [str(path).encode() + b"/" for path in paths]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if b"[mux]" not in cmdline and any(needle in cmdline for needle in needles):
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue
