"""Servers and groups rendered back as an Ansible inventory (INI or YAML), secrets left out.

What is written is exactly what the importer reads back to the same servers: importing an export changes
nothing (secrets and credentials are kept when an inventory does not give them). A caller with a scope exports
the servers in it and the groups it shows (app/groups.py ``visible_groups``), nothing else.
"""

from __future__ import annotations

import json
from typing import Any

from app.clock import rfc3339, utcnow
from app.db import rows
from app.groups import groups_of, visible_groups
from app.models import Group, GroupChild, Server
from app.scopes import Scope
from app.servers import with_credentials


def _host_vars(server: Server) -> dict[str, Any]:
    host_vars: dict[str, Any] = {
        "ansible_host": server.hostname,
        "ansible_port": server.port,
        "ansible_user": server.user,
    }
    if server.become:
        host_vars["ansible_become"] = True
    if server.become_user:
        host_vars["ansible_become_user"] = server.become_user
    if server.python_interpreter:
        host_vars["ansible_python_interpreter"] = server.python_interpreter
    if server.credential is not None:
        host_vars["newremora_credential"] = server.credential.name
    return host_vars


def _inventory(
    scope: Scope | None, visible: frozenset[str] | None
) -> tuple[list[Server], dict[str, list[str]], dict[str, list[str]], dict[str, list[str]]]:
    servers: list[Server] = [
        server for server in with_credentials().order_by(Server.name) if visible is None or server.id in visible
    ]
    membership = groups_of(server.id for server in servers)
    shown = visible_groups(scope, visible)
    names = {
        str(group_id): str(name)
        for group_id, name in rows(Group.select(Group.id, Group.name))
        if shown is None or name in shown
    }
    children: dict[str, list[str]] = {name: [] for name in sorted(names.values())}
    for parent_id, child_id in rows(GroupChild.select(GroupChild.parent, GroupChild.child)):
        if str(parent_id) in names and str(child_id) in names:
            children[names[str(parent_id)]].append(names[str(child_id)])
    members: dict[str, list[str]] = {name: [] for name in children}
    for server in servers:
        for group in membership[server.id]:
            if group in members:
                members[group].append(server.name)
    return servers, membership, children, members


def _header() -> str:
    return f"# Exported by NewRemora at {rfc3339(utcnow())}. Secrets (passwords, keys) are not included.\n"


def export_yaml(scope: Scope | None = None, visible: frozenset[str] | None = None) -> str:
    # JSON is YAML: every value is quoted and escaped by json.dumps, so no name can break the document.
    servers, _, children, members = _inventory(scope, visible)
    groups = {
        name: {
            "hosts": {host: None for host in members[name]},
            "children": {child: None for child in sorted(children[name])},
        }
        for name in children
    }
    document = {
        "all": {
            "hosts": {server.name: _host_vars(server) for server in servers},
            "children": {name: {k: v for k, v in body.items() if v} for name, body in groups.items()},
        }
    }
    return _header() + json.dumps(document, indent=2) + "\n"


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    # Names, addresses, ports and paths are validated to plain characters; nothing here needs quoting.
    return str(value)


def export_ini(scope: Scope | None = None, visible: frozenset[str] | None = None) -> str:
    servers, _, children, members = _inventory(scope, visible)
    lines = [_header().rstrip("\n")]
    for server in servers:
        pairs = " ".join(f"{name}={_ini_value(value)}" for name, value in _host_vars(server).items())
        lines.append(f"{server.name} {pairs}")
    for name in children:
        lines += ["", f"[{name}]", *members[name]]
        if children[name]:
            lines += ["", f"[{name}:children]", *sorted(children[name])]
    return "\n".join(lines) + "\n"
