"""Importing an Ansible inventory into servers and groups, with an allow-list of the variables understood.

Parsing is Ansible's (app/inventories/parse.py); this module decides what each host becomes. Only the
variables listed in ``UNDERSTOOD`` are used. Any other ``ansible_*`` variable is something Ansible would act
on (a connection plugin, ssh arguments, an executable on the controller...), so a host that has one is
refused with the reason, and the rest of the inventory imports. Variables of the user's own (``http_port``)
are not connection settings: they are ignored and listed as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from app.clock import utcnow
from app.credentials import find_credential
from app.errors import InvalidInput
from app.groups import add_children, ensure_groups, set_server_groups
from app.inventories.parse import ParsedHost, ParsedInventory, VarValue
from app.inventories.problems import shown_name
from app.key_files import KeyFileRefused, read_key_file
from app.keys import parse_private_key
from app.models import Credential, Group, Server
from app.servers import apply_changes, check_credentials, with_credentials
from app.validators import (
    check_group_name,
    check_hostname,
    check_interpreter,
    check_login_name,
    check_secret_text,
    check_server_name,
)
from app.vault import Vault

MAX_HOSTS: Final = 10_000
INVALID_NAME: Final = "(a host with an invalid name)"
TRUE_WORDS: Final = ("true", "yes", "on", "1")
FALSE_WORDS: Final = ("false", "no", "off", "0")
# Inventory variable -> the setting it gives (older ansible_ssh_* spellings are still common).
UNDERSTOOD: Final = {
    "ansible_host": "hostname",
    "ansible_ssh_host": "hostname",
    "ansible_port": "port",
    "ansible_ssh_port": "port",
    "ansible_user": "user",
    "ansible_ssh_user": "user",
    "ansible_password": "password",
    "ansible_ssh_pass": "password",
    "ansible_ssh_private_key_file": "key_file",
    "ansible_private_key_file": "key_file",
    "ansible_become": "become",
    "ansible_become_user": "become_user",
    "ansible_become_password": "become_password",
    "ansible_become_pass": "become_password",
    "ansible_python_interpreter": "python_interpreter",
    # Accepted only with the values NewRemora uses anyway (checked below).
    "ansible_connection": "connection",
    "ansible_become_method": "become_method",
    # NewRemora's own: the name (or id) of a stored credential.
    "newremora_credential": "credential",
}
WHY_REFUSED: Final = {
    "ansible_ssh_common_args": "ssh options can run commands on this machine (ProxyCommand, LocalCommand)",
    "ansible_ssh_extra_args": "ssh options can run commands on this machine (ProxyCommand, LocalCommand)",
    "ansible_ssh_args": "ssh options can run commands on this machine (ProxyCommand, LocalCommand)",
    "ansible_sftp_extra_args": "ssh options can run commands on this machine",
    "ansible_scp_extra_args": "ssh options can run commands on this machine",
}


class Refused(Exception):
    """A host that is not imported; the message is the reason reported: the variable's name and what is wrong,
    never its value (a password put in the wrong variable would be echoed to the client and the logs)."""


@dataclass
class HostSettings:
    hostname: str
    port: int = 22
    user: str | None = None
    password: str | None = None
    private_key: str | None = None
    credential: Credential | None = None
    become: bool = False
    become_user: str | None = None
    become_password: str | None = None
    python_interpreter: str | None = None
    ignored_vars: list[str] = field(default_factory=list)


def _text(name: str, var: VarValue, check: Callable[[str], str] | None = None) -> str:
    if var.vault:
        raise Refused(f"{name}: encrypted with Ansible Vault, which NewRemora does not decrypt (use a credential)")
    if var.complex_type is not None or var.value is None or isinstance(var.value, bool):
        raise Refused(f"{name}: must be a plain value")
    text = str(var.value)
    if "{{" in text or "{%" in text:
        raise Refused(f"{name}: is a template; NewRemora never evaluates templates from inventories")
    if check is not None:
        try:
            return check(text)
        except ValueError as exc:
            raise Refused(f"{name}: {exc}") from None
    return text


def _boolean(name: str, var: VarValue) -> bool:
    if isinstance(var.value, bool):
        return var.value
    word = _text(name, var).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise Refused(f"{name}: must be true or false")


def _port(name: str, var: VarValue) -> int:
    text = _text(name, var).strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise Refused(f"{name}: must be a port number (1-65535)")
    return int(text)


def host_settings(host: ParsedHost, key_dir: Path | None) -> HostSettings:
    """What the host's variables say, or Refused with the first reason found (dangerous variables first)."""
    for name in sorted(host.vars):
        if name.startswith("ansible_") and name not in UNDERSTOOD:
            why = WHY_REFUSED.get(name) or (
                "runs a program on this machine"
                if name.endswith("_executable")
                else "NewRemora does not use it, and Ansible would act on it"
            )
            raise Refused(f"{name}: not allowed ({why})")
    try:
        check_server_name(host.name)
    except ValueError as exc:
        raise Refused(f"host name: {exc}") from None
    found: dict[str, tuple[str, VarValue]] = {}
    ignored = []
    for name, var in host.vars.items():
        setting = UNDERSTOOD.get(name)
        if setting is None:
            ignored.append(name)
        elif setting not in found or (name.startswith("ansible_") and "_ssh_" not in name):
            found[setting] = (name, var)  # the current spelling wins over the old ansible_ssh_* one

    def text(setting: str, check: Callable[[str], str] | None = None) -> str | None:
        return _text(*found[setting], check) if setting in found else None

    connection = text("connection")
    if connection is not None and connection not in ("ssh", "smart"):
        raise Refused("ansible_connection: not allowed, only ssh (jobs never run on this machine)")
    method = text("become_method")
    if method is not None and method != "sudo":
        raise Refused("ansible_become_method: not supported, only sudo")
    settings = HostSettings(hostname=text("hostname", check_hostname) or _host_address(host.name))
    if "port" in found:
        settings.port = _port(*found["port"])
    settings.user = text("user", check_login_name)
    settings.password = text("password", check_secret_text)
    settings.become = _boolean(*found["become"]) if "become" in found else False
    settings.become_user = text("become_user", check_login_name)
    settings.become_password = text("become_password", check_secret_text)
    settings.python_interpreter = text("python_interpreter", check_interpreter)
    key_file = text("key_file")
    if key_file is not None:
        try:
            settings.private_key = read_key_file(key_dir, key_file)
        except KeyFileRefused as exc:
            raise Refused(str(exc)) from None
        try:
            parse_private_key(settings.private_key)
        except InvalidInput as exc:
            raise Refused(
                f"ansible_ssh_private_key_file: {exc.message} (an encrypted key goes in a credential)"
            ) from None
    reference = text("credential")
    if reference is not None:
        settings.credential = find_credential(reference)
        if settings.credential is None:
            raise Refused("newremora_credential: no credential has this name or id")
    settings.ignored_vars = sorted(ignored)
    return settings


def _listed_name(name: str) -> str:
    """How a skipped host is named in the report: not quoted when it has a space, '=' or a quote (a YAML key is any
    string: perhaps a value that ended up where a name goes)."""
    return shown_name(name) or INVALID_NAME


def _host_address(name: str) -> str:
    try:
        return check_hostname(name)
    except ValueError:
        raise Refused("ansible_host: required, the host name is not an address") from None


@dataclass
class HostOutcome:
    name: str
    server_id: str | None
    groups: list[str]
    changes: list[str] = field(default_factory=list)
    ignored_vars: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    dry_run: bool
    created: list[HostOutcome] = field(default_factory=list)
    updated: list[HostOutcome] = field(default_factory=list)
    unchanged: list[HostOutcome] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    groups_created: list[str] = field(default_factory=list)


def _apply(server: Server, settings: HostSettings, vault: Vault) -> list[str]:
    """Set what the inventory says on the server; returns the names of what changed. Settings Ansible would
    default (port 22, no become...) follow the inventory; secrets and the credential change only when given,
    so an exported inventory (which never holds secrets) imports back unchanged."""
    wanted: dict[str, Any] = {
        "hostname": settings.hostname,
        "port": settings.port,
        "become": settings.become,
        "become_user": settings.become_user,
        "python_interpreter": settings.python_interpreter,
    }
    if settings.user is not None:
        wanted["user"] = settings.user
    if settings.credential is not None:
        wanted["credential"] = settings.credential
    for name in ("password", "private_key", "become_password"):
        if getattr(settings, name) is not None:
            wanted[name] = getattr(settings, name)
    changes = apply_changes(server, vault, wanted)
    if "private_key" in changes:
        server.passphrase_enc = None  # an inventory key file is a clear key
    return changes + apply_changes(server, vault, {"auth_type": _auth_type(server, settings)})


def _auth_type(server: Server, settings: HostSettings) -> str:
    if settings.private_key is not None:
        return "key"
    if settings.password is not None:
        return "password"
    credential = settings.credential
    if credential is not None and server.password_enc is None and server.private_key_enc is None:
        return "key" if credential.private_key_enc is not None else "password"
    return str(server.auth_type) if server.auth_type else "password"


def import_inventory(
    vault: Vault, parsed: ParsedInventory, key_dir: Path | None = None, dry_run: bool = False
) -> ImportResult:
    """Create or update a server per host and a group per inventory group, in one transaction (rolled back
    for a dry run). Runs in a database thread; parse first (``parse_inventory``), outside any connection."""
    if len(parsed.hosts) > MAX_HOSTS:
        raise InvalidInput(f"content: {len(parsed.hosts)} hosts; {MAX_HOSTS} at most per import")
    result = ImportResult(dry_run=dry_run)
    bad_groups = {}
    for name in parsed.groups:
        try:
            check_group_name(name)
        except ValueError as exc:
            shown = shown_name(name)
            bad_groups[name] = f"group {shown}: {exc}" if shown else f"a group with an invalid name: {exc}"
    database = Server._meta.database
    with database.atomic() as transaction:
        known_groups = {group.name for group in Group.select(Group.name)}
        good = sorted(name for name in parsed.groups if name not in bad_groups)
        ensure_groups(good)
        result.groups_created = [name for name in good if name not in known_groups]
        for parent in good:
            children = [c for c in parsed.groups[parent] if c not in bad_groups]
            if children:
                add_children(parent, children)
        for host in parsed.hosts:
            _import_host(host, vault, key_dir, bad_groups, result)
        if dry_run:
            transaction.rollback()
    return result


def _import_host(
    host: ParsedHost, vault: Vault, key_dir: Path | None, bad_groups: dict[str, str], result: ImportResult
) -> None:
    try:
        for group in host.groups:
            if group in bad_groups:
                raise Refused(bad_groups[group])
        settings = host_settings(host, key_dir)
        existing = with_credentials().where(Server.name == host.name).first()
        server = existing or Server(name=host.name, is_active=True, auth_type="")
        if existing is None and settings.user is None:
            raise Refused("ansible_user: required for a new server (NewRemora does not guess the login)")
        changes = _apply(server, settings, vault)
        try:
            check_credentials(server, vault)
        except InvalidInput as exc:
            raise Refused(
                "no credential: give ansible_password, ansible_ssh_private_key_file or newremora_credential"
                if existing is None
                else exc.message
            ) from None
    except Refused as exc:
        result.skipped.append((_listed_name(host.name), str(exc)))
        return
    if changes:
        server.updated_at = utcnow()
        server.save(force_insert=existing is None)
    groups_changed = set_server_groups(server, host.groups)
    if groups_changed and existing is not None:
        changes.append("groups")
    outcome = HostOutcome(host.name, server.id, sorted(host.groups), changes, settings.ignored_vars)
    if existing is None:
        outcome.changes = []
        result.created.append(outcome)
    elif changes:
        result.updated.append(outcome)
    else:
        result.unchanged.append(outcome)
