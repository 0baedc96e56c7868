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

from app.runner.agent import Agent, public_key_line
from app.runner.secret_socket import SecretSocket
from app.runner.spec import RunnerConfig, Target

INVENTORY_TEMPLATE: Final = Path(__file__).resolve().parents[2] / "inventory_templates" / "hosts.yml.j2"
# Variable names are ours, never a user's; anything else would be a bug worth stopping for.
IDENTIFIER: Final = re.compile(r"[a-z_][a-z0-9_]*")
# Socket names in the run directory, short: a socket's whole path must fit in 108 bytes (see runner/config.py).
SECRET_SOCKET: Final = "s"  # noqa: S105 (a file name)
AGENT_SOCKET: Final = "a"
# Host aliases are ours (job_<id>) or a server's name (validated, and quoted in the template).
HOST_ALIAS: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")

HostVars = dict[str, str | int | bool]

# A host variable of ours naming the secret-socket handle of the host's sudo password. Host variables are tagged
# !unsafe (never templated), so the lookup that reads the password lives in the vars of a group of the hosts with
# that handle (nr_become_HANDLE), which render_inventory adds.
BECOME_HANDLE: Final = "nr_become_handle"
HANDLE: Final = re.compile(r"[0-9a-f]{32}")


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
    become_groups: dict[str, list[str]] = {}
    for alias, host_vars in hosts.items():
        handle = host_vars.get(BECOME_HANDLE)
        if handle is not None:
            if not isinstance(handle, str) or not HANDLE.fullmatch(handle):
                raise ValueError(f"not a secret handle: {handle!r}")
            become_groups.setdefault(handle, []).append(alias)
    return _template().render(hosts=hosts, group=group, run_vars=run_vars, become_groups=become_groups)


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
    """A 0700 directory for one ansible-runner run. No secret is ever written into it: the inventory names
    passwords by handles of the run's secret socket, and private keys live in the run's ssh-agent."""

    def __init__(self, config: RunnerConfig) -> None:
        config.runs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.config = config
        # The pid in the name lets a later start remove what a killed process left (remove_stale_runs).
        self.path = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=config.runs_dir))
        self._secrets = self.path / "secrets"
        self._secrets.mkdir(mode=0o700)
        self.secret_socket = SecretSocket(self.path / SECRET_SOCKET)
        self._agent: Agent | None = None

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.remove()

    def remove(self) -> None:
        # Ansible's forks run in sessions of their own: when a run was cut short, some may still be alive (and
        # the agent: its command line names its socket in this directory).
        if self._agent is not None:
            self._agent.stop()
        _kill_processes_using([self.path])
        self.secret_socket.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def _private_file(self, name: str, text: str) -> Path:
        path = self._secrets / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        return path

    def environment(self) -> dict[str, str]:
        """What Ansible's processes need to ask the secret socket (see playbooks/connection_plugins)."""
        return {"NR_SECRET_SOCKET": str(self.secret_socket.path)}

    def _agent_identity(self, target: Target, private_key: str) -> Path:
        """The public key file that makes ssh offer this target's key, and only it, from the run's agent."""
        public = self._secrets / f"key_{_file_key(target)}.pub"
        if not public.exists():
            if self._agent is None:
                self._agent = Agent(self.path / AGENT_SOCKET)
            self._agent.add(private_key)
            self._private_file(public.name, public_key_line(private_key))
        return public

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
            "IdentitiesOnly=yes",
            f"ConnectTimeout={self.config.connect_timeout_s}",
            "ServerAliveInterval=15",
        ]
        host_vars: HostVars = {
            # Ansible's ssh, but the password goes to ssh's askpass through the secret socket, not /dev/shm.
            "ansible_connection": "newremora_ssh",
            "ansible_host": target.hostname,
            "ansible_port": target.port,
            "ansible_user": target.user,
            "ansible_control_path": str(self.config.control_dir / target.credential_digest),
        }
        if target.private_key is not None:
            identity = self._agent_identity(target, target.private_key)
            agent = self.path / AGENT_SOCKET
            options += [f"IdentityAgent={agent}", f"IdentityFile={identity}"]
            options += ["PasswordAuthentication=no", "KbdInteractiveAuthentication=no"]
        else:
            # A handle, not the password: ssh's askpass helper exchanges it over the secret socket.
            password = target.password
            host_vars["ansible_password"] = self.secret_socket.handle_for(password) if password else ""
            host_vars["ansible_ssh_password_mechanism"] = "ssh_askpass"  # noqa: S105 (not a password)
            options += ["IdentityAgent=none", "PubkeyAuthentication=no"]
        host_vars["ansible_ssh_common_args"] = shlex.join(arg for option in options for arg in ("-o", option))
        if target.become_user is not None:
            # Every task of the host (start, poll, kill, clean up) runs as the become user, so the job's
            # directory, its processes and the signals of a cancel all belong to that one user. sudo reads
            # the password on stdin (Ansible answers its prompt), never from argv; Ansible's worker gets it from
            # the secret socket when it needs it.
            host_vars["ansible_become"] = True
            host_vars["ansible_become_method"] = "sudo"
            host_vars["ansible_become_user"] = target.become_user
            if target.become_password is not None:
                host_vars[BECOME_HANDLE] = self.secret_socket.handle_for(target.become_password)
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
        """The run's inventory (0600; handles of secrets, never a secret). Written again for each round of a run,
        whole or not at all: Ansible may read it at any time (``meta: refresh_inventory``)."""
        path = self.path / "inventory.yml"
        temporary = self.path / ".inventory.yml.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(render_inventory(hosts, group, run_vars))
        temporary.rename(path)
        return path


def remove_stale_runs(runs_dir: Path) -> int:
    """End what a killed service left: its Ansible processes (they run in sessions of their own, so they
    outlive it, blocked on output nobody reads), its ssh-agents, and its run directories."""
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
