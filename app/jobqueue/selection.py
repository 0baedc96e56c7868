"""Which servers a submission names: one server, a list of servers, or a group (with its nested groups).

Every kind of job (commands, scripts, playbooks) resolves its servers here, so that the rules are the same. (How
to reach a server once it is chosen is another matter: app/reach.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import Conflict, NotFound
from app.groups import servers_in_group
from app.models import Server
from app.scopes import Visible, require_visible
from app.servers import get_server


# "Exactly one of server_id, server_ids or group" is checked once, by the request models (app/schemas/jobs.py); a
# selection is one of these three by its type.
@dataclass(frozen=True)
class OneServer:
    """``server_id``: one job, answered as itself (no batch)."""

    server_id: str


@dataclass(frozen=True)
class ServerList:
    """``server_ids``: one job per server, sharing a batch."""

    server_ids: tuple[str, ...]


@dataclass(frozen=True)
class GroupMembers:
    """``group``: one job per active server of the group and its nested groups, sharing a batch."""

    group: str


Selection = OneServer | ServerList | GroupMembers


@dataclass(frozen=True)
class Selected:
    servers: list[Server]
    # False only for a single ``server_id``: that submission keeps its one-job answer and has no batch.
    batch: bool


def _inactive(server: Server) -> Conflict:
    return Conflict(f"server {server.name!r} is inactive; activate it to run jobs on it")


def select_servers(selection: Selection, visible: Visible = None) -> Selected:
    """A server named explicitly must be active (409 otherwise); a group runs on its active servers and is a 409
    when it has none. Runs in a database thread (inside the submission's transaction, so the servers cannot
    vanish before their jobs exist).

    With ``visible`` (the caller's scope), a server out of scope is not found, and so is a group that reaches
    one (active or not): the whole submission is refused before any job exists."""
    if isinstance(selection, OneServer):
        server = get_server(selection.server_id)
        require_visible([server.id], visible, "Server")
        if not server.is_active:
            raise _inactive(server)
        return Selected([server], batch=False)
    if isinstance(selection, ServerList):
        servers = [get_server(one) for one in selection.server_ids]
        for server in servers:
            require_visible([server.id], visible, "Server")
        if len({server.id for server in servers}) != len(servers):
            raise Conflict("server_ids: the same server is named twice")
        for server in servers:
            if not server.is_active:
                raise _inactive(server)
        return Selected(sorted(servers, key=lambda s: s.name), batch=True)
    reached = servers_in_group(selection.group)
    if visible is not None and any(server.id not in visible for server in reached):
        raise NotFound(f"Group not found: no group named {selection.group!r}")  # as get_group says
    members = [server for server in reached if server.is_active]
    if not members:
        raise Conflict(f"group {selection.group!r} has no active servers")
    return Selected(members, batch=True)
