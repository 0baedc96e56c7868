"""Which servers a submission targets: one server, a list of servers, or a group (with its nested groups).

Every kind of job (commands, scripts, playbooks) resolves its targets here, so that the rules are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.errors import Conflict
from app.groups import servers_in_group
from app.models import Server
from app.servers import get_server


@dataclass(frozen=True)
class Targets:
    servers: list[Server]
    # False only for a single ``server_id``: that submission keeps its one-job answer and has no batch.
    batch: bool


def _inactive(server: Server) -> Conflict:
    return Conflict(f"server {server.name!r} is inactive; activate it to run jobs on it")


def resolve_targets(
    server_id: str | None = None, server_ids: Sequence[str] | None = None, group: str | None = None
) -> Targets:
    """Exactly one of the three. A server named explicitly must be active (409 otherwise); a group runs on
    its active servers and is a 409 when it has none. Runs in a database thread (inside the submission's
    transaction, so the servers cannot vanish before their jobs exist)."""
    if sum(part is not None for part in (server_id, server_ids, group)) != 1:
        raise ValueError("resolve_targets: exactly one of server_id, server_ids or group")
    if server_id is not None:
        server = get_server(server_id)
        if not server.is_active:
            raise _inactive(server)
        return Targets([server], batch=False)
    if server_ids is not None:
        servers = [get_server(one) for one in server_ids]
        if len({server.id for server in servers}) != len(servers):
            raise Conflict("server_ids: the same server is named twice")
        for server in servers:
            if not server.is_active:
                raise _inactive(server)
        return Targets(sorted(servers, key=lambda s: s.name), batch=True)
    assert group is not None
    members = [server for server in servers_in_group(group) if server.is_active]
    if not members:
        raise Conflict(f"group {group!r} has no active servers")
    return Targets(members, batch=True)
