"""Groups of servers, nested as in Ansible inventories. Runs in a database thread; knows nothing of HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.db import rows
from app.errors import InvalidInput, NotFound
from app.models import Group, GroupChild, Server, ServerGroup
from app.scopes import Scope, ScopeNames, Visible


def ensure_groups(names: Iterable[str]) -> dict[str, Group]:
    """The groups of these names, created where missing (names are checked by the caller)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    found = {group.name: group for group in Group.select().where(Group.name.in_(wanted))}
    for name in wanted:
        if name not in found:
            found[name] = Group.create(name=name)
    return found


def set_server_groups(server: Server, names: Iterable[str]) -> bool:
    """Make the server's groups exactly these; returns whether anything changed."""
    wanted = set(names)
    current = set(groups_of([server.id]).get(server.id, []))
    if wanted == current:
        return False
    groups = ensure_groups(wanted)
    ServerGroup.delete().where(ServerGroup.server == server).execute()
    for name in sorted(wanted):
        ServerGroup.create(server=server, group=groups[name])
    return True


def add_children(parent: str, children: Iterable[str]) -> bool:
    """Nest groups under ``parent``; returns whether a new link was made. Cycles are harmless (resolution
    visits each group once) but Ansible refuses them, so the importer never makes one."""
    groups = ensure_groups([parent, *children])
    existing = {
        str(child_id)
        for (child_id,) in rows(GroupChild.select(GroupChild.child).where(GroupChild.parent == groups[parent]))
    }
    changed = False
    for name in sorted(set(children)):
        if groups[name].id not in existing:
            GroupChild.create(parent=groups[parent], child=groups[name])
            changed = True
    return changed


def groups_of(server_ids: Iterable[str]) -> dict[str, list[str]]:
    """Server id -> the names of the groups it is directly in, sorted."""
    ids = list(server_ids)
    found: dict[str, list[str]] = {server_id: [] for server_id in ids}
    if not ids:
        return found
    query = ServerGroup.select(ServerGroup.server, Group.name).join(Group).where(ServerGroup.server.in_(ids))
    for server_id, name in rows(query.order_by(Group.name)):
        found[str(server_id)].append(str(name))
    return found


def _children_by_parent() -> dict[str, list[str]]:
    tree: dict[str, list[str]] = {}
    for parent_id, child_id in rows(GroupChild.select(GroupChild.parent, GroupChild.child)):
        tree.setdefault(str(parent_id), []).append(str(child_id))
    return tree


def _descendants(root_id: str, tree: dict[str, list[str]]) -> set[str]:
    seen = {root_id}
    todo = [root_id]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def get_group(name: str) -> Group:
    group = Group.get_or_none(Group.name == name)
    if group is None:
        raise NotFound(f"Group not found: no group named {name!r}")
    return group


def servers_in_group(name: str) -> list[Server]:
    """The servers of the group and of every group nested in it, each once, by name."""
    group = get_group(name)
    group_ids = _descendants(group.id, _children_by_parent())
    members = ServerGroup.select(ServerGroup.server).where(ServerGroup.group.in_(list(group_ids)))
    return list(Server.select().where(Server.id.in_(members)).order_by(Server.name))


@dataclass(frozen=True)
class GroupInfo:
    name: str
    children: list[str]
    parents: list[str]
    servers: list[str]  # names of the servers directly in the group
    all_servers: int  # servers in the group or any group nested in it


def list_groups() -> list[GroupInfo]:
    groups = {group.id: group.name for group in Group.select()}
    tree = _children_by_parent()
    parents: dict[str, list[str]] = {}
    for parent_id, child_ids in tree.items():
        for child_id in child_ids:
            parents.setdefault(child_id, []).append(groups[parent_id])
    direct: dict[str, list[tuple[str, str]]] = {}
    query = ServerGroup.select(ServerGroup.group, Server.id, Server.name).join(Server)
    for group_id, server_id, server_name in rows(query):
        direct.setdefault(str(group_id), []).append((str(server_id), str(server_name)))
    infos = []
    for group_id, name in groups.items():
        nested = _descendants(group_id, tree)
        everyone = {server_id for g in nested for server_id, _ in direct.get(g, [])}
        infos.append(
            GroupInfo(
                name=name,
                children=sorted(groups[c] for c in tree.get(group_id, [])),
                parents=sorted(parents.get(group_id, [])),
                servers=sorted(server_name for _, server_name in direct.get(group_id, [])),
                all_servers=len(everyone),
            )
        )
    return sorted(infos, key=lambda info: info.name)


def visible_servers(scope: Scope | None) -> Visible:
    """The ids of the servers a scope admits, in one query (a recursive one walks nested groups); None for no
    scope, without a query. Each scope of the chain (a key within its owner) must admit a server."""
    if scope is None:
        return None
    ctes: list[str] = []
    conditions: list[str] = []
    params: list[str] = []
    group_table, child_table = Group._meta.table_name, GroupChild._meta.table_name
    member_table, server_table = ServerGroup._meta.table_name, Server._meta.table_name
    for index, one in enumerate(scope.chain()):
        admits: list[str] = []
        if one.groups:
            marks = ", ".join("?" * len(one.groups))
            ctes.append(
                f'g{index}(id) AS (SELECT id FROM "{group_table}" WHERE id IN ({marks}) '
                f'UNION SELECT c.child_id FROM "{child_table}" c JOIN g{index} ON c.parent_id = g{index}.id)'
            )
            params.extend(sorted(one.groups))
            admits.append(f'id IN (SELECT server_id FROM "{member_table}" WHERE group_id IN (SELECT id FROM g{index}))')
        if one.servers:
            admits.append(f"id IN ({', '.join('?' * len(one.servers))})")
        conditions.append(f"({' OR '.join(admits) or '1 = 0'})")
    # Parameters in order of appearance: the CTEs' group ids first, then each condition's server ids.
    for one in scope.chain():
        params.extend(sorted(one.servers))
    with_clause = f"WITH RECURSIVE {', '.join(ctes)} " if ctes else ""
    sql = f'{with_clause}SELECT id FROM "{server_table}" WHERE {" AND ".join(conditions)}'
    database = Server._meta.database
    if database.param != "?":
        sql = sql.replace("?", database.param)
    return frozenset(str(row[0]) for row in database.execute_sql(sql, params).fetchall())


def visible_groups(scope: Scope | None, visible: Visible) -> set[str] | None:
    """The names of the groups a scope shows (None: all): a granted group and the groups nested in it, and any
    group that reaches at least one server, all of them in scope."""
    if scope is None or visible is None:
        return None
    names = {group.id: group.name for group in Group.select(Group.id, Group.name)}
    tree = _children_by_parent()
    direct: dict[str, set[str]] = {}
    for group_id, server_id in rows(ServerGroup.select(ServerGroup.group, ServerGroup.server)):
        direct.setdefault(str(group_id), set()).add(str(server_id))
    granted: set[str] = set()
    for one in scope.chain():
        for group_id in one.groups:
            granted |= _descendants(group_id, tree) if group_id in names else set()
    shown = set()
    for group_id, name in names.items():
        reached = {server for g in _descendants(group_id, tree) for server in direct.get(g, set())}
        if reached <= visible and (reached or group_id in granted):
            shown.add(name)
    return shown


def _ids_by_name(model: type[Group] | type[Server], names: tuple[str, ...]) -> dict[str, str]:
    if not names:
        return {}
    return {
        str(name): str(found) for found, name in rows(model.select(model.id, model.name).where(model.name.in_(names)))
    }


def _names_of(model: type[Group] | type[Server], ids: frozenset[str]) -> tuple[str, ...]:
    if not ids:
        return ()
    return tuple(sorted(str(name) for (name,) in rows(model.select(model.name).where(model.id.in_(sorted(ids))))))


def scope_of_names(names: ScopeNames) -> Scope:
    """Group and server names as a scope of ids; 400 naming every name that matches nothing."""
    groups, servers = _ids_by_name(Group, names.groups), _ids_by_name(Server, names.servers)
    unknown = [f"group {name!r}" for name in names.groups if name not in groups]
    unknown += [f"server {name!r}" for name in names.servers if name not in servers]
    if unknown:
        raise InvalidInput(f"scope: no such {', '.join(unknown)}")
    return Scope(groups=frozenset(groups.values()), servers=frozenset(servers.values()))


def names_of_scope(scope: Scope | None) -> ScopeNames | None:
    """A scope as names, to show (a group or server removed since is left out)."""
    if scope is None:
        return None
    return ScopeNames(_names_of(Group, scope.groups), _names_of(Server, scope.servers), names_of_scope(scope.within))
