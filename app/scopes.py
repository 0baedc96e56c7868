"""Scopes: a grant limited to groups and/or servers (docs/access.md, "Scopes").

A scope names group ids and server ids (stable across renames); its servers are those named and those in the named
groups or any group nested in them, resolved when a request asks (app/groups.py ``visible_servers``), so a server
added to a granted group later is in scope at once. ``None`` is no scope: unlimited. A key's scope holds within
its owner's (``within``): a key never sees more than its owner does now.

The rule: an object is visible iff every server it involves is in scope; an invisible object answers 404 exactly as
a missing one does (``hidden``), so a scope never tells what exists outside it. ``ENDPOINT_SCOPES`` says how the
rule applies to each /api/v1 endpoint; a test checks it against app/rights.py ``ROUTE_RIGHTS``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from app.errors import NotFound

# The server ids a request may see; None: every server (an unlimited caller pays nothing to find out).
Visible = frozenset[str] | None


@dataclass(frozen=True)
class Scope:
    groups: frozenset[str] = field(default_factory=frozenset)  # group ids
    servers: frozenset[str] = field(default_factory=frozenset)  # server ids
    within: Scope | None = None  # a further scope that holds too (a key's owner's)

    def to_json(self) -> str:
        return json.dumps(self._document(), sort_keys=True)

    def _document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"groups": sorted(self.groups), "servers": sorted(self.servers)}
        if self.within is not None:
            document["within"] = self.within._document()
        return document

    def chain(self) -> list[Scope]:
        """This scope and every scope it holds within: a server is in scope iff each of them admits it."""
        found: list[Scope] = []
        scope: Scope | None = self
        while scope is not None:
            found.append(Scope(scope.groups, scope.servers))
            scope = scope.within
        return found


def scope_from_json(text: str | None) -> Scope | None:
    """A stored scope (a nullable JSON text column of app_user and api_key); null: unlimited."""
    if text is None:
        return None
    return _from_document(json.loads(text))


def _from_document(document: dict[str, Any]) -> Scope:
    within = document.get("within")
    return Scope(
        groups=frozenset(document.get("groups", [])),
        servers=frozenset(document.get("servers", [])),
        within=_from_document(within) if within is not None else None,
    )


def narrowed(first: Scope | None, second: Scope | None) -> Scope | None:
    """What holds under both: a key's own scope within its owner's current one."""
    if first is None:
        return second
    if second is None:
        return first
    return Scope(first.groups, first.servers, narrowed(first.within, second))


def hidden(what: str) -> NotFound:
    """The answer about an object out of scope: the very one a missing object gets."""
    return NotFound(f"{what} not found")


def require_visible(server_ids: Iterable[str], visible: Visible, what: str) -> None:
    """404 (as if missing) unless every server the object involves is in scope."""
    if visible is not None and any(server_id not in visible for server_id in server_ids):
        raise hidden(what)


@dataclass(frozen=True)
class ScopeNames:
    """A scope as people write it: group and server names (the API and the CLI)."""

    groups: tuple[str, ...] = ()
    servers: tuple[str, ...] = ()
    within: ScopeNames | None = None  # a key's owner's scope, which holds too


# How scope applies to an endpoint:
# - "object": the object named in the path (a server, a job, a batch) answers 404 when out of scope;
# - "filtered": a listing or a count shows what is in scope only;
# - "targets": a submission whose targets (server_id, server_ids, group, a duplicate's server) are all in scope;
#   one out of scope refuses it whole (404 naming it), nothing created;
# - "own": about the caller themselves (their keys, who they are): no server involved;
# - "unscoped": needs a caller without a scope (users, credentials, inventory import, audit: 403).
ScopeRule = Literal["object", "filtered", "targets", "own", "unscoped"]
ENDPOINT_SCOPES: Final[dict[str, ScopeRule]] = {
    "me.me": "own",
    "servers.list_servers": "filtered",
    "servers.get_server": "object",
    "servers.create_server": "targets",  # the new server must land in scope (else 403)
    "servers.update_server": "object",  # and must stay in scope (else 403)
    "servers.delete_server": "object",
    "servers.forget_host_key": "object",
    "servers.test_server": "object",
    "servers.check_status": "filtered",
    "servers.upload_pem": "own",  # a PEM file involves no server until a server names it
    "jobs.list_jobs": "filtered",
    "jobs.get_job": "object",
    "jobs.job_logs": "object",
    "jobs.job_stdout": "object",
    "jobs.job_stderr": "object",
    "jobs.job_tasks": "object",
    "stream.stream": "object",
    "jobs.create_job": "targets",
    "jobs.create_script_job": "targets",
    "jobs.create_playbook_job": "targets",
    "jobs.cancel_job": "object",
    "jobs.duplicate_job": "targets",
    "batches.batch_summary": "object",
    # A template is in scope when every server it involves is (a group's current members); creating or changing
    # one names its targets, and a launch checks them again.
    "templates.list_templates": "filtered",
    "templates.get_template": "object",
    "templates.template_versions": "object",
    "templates.create_template": "targets",
    "templates.update_template": "targets",
    "templates.delete_template": "object",
    "templates.launch_template": "targets",
    "groups.groups": "filtered",
    "system.info": "filtered",
    "system.enhanced": "filtered",
    "playbooks.playbooks": "own",  # the playbook directory's files, not servers
    "credentials.list_credentials": "unscoped",
    "credentials.get_credential": "unscoped",
    "credentials.create_credential": "unscoped",
    "credentials.update_credential": "unscoped",
    "credentials.delete_credential": "unscoped",
    "inventories.export": "filtered",
    "inventories.import_": "unscoped",
    "keys.list_keys": "own",  # a scoped administrator sees their own keys only
    "keys.create_key": "own",  # at most the caller's scope
    "keys.revoke_key": "own",
    "users.list_users": "unscoped",
    "users.create_user": "unscoped",
    "users.get_user": "unscoped",
    "users.update_user": "unscoped",
    "audit.list_audit": "unscoped",
    "settings.list_settings": "unscoped",  # deployment-wide: not any one group's
    "settings.change_settings": "unscoped",
    # Targets see every job's end, whatever its servers: a caller with a scope has no business with them.
    "notifications.list_targets": "unscoped",
    "notifications.create_target": "unscoped",
    "notifications.get_target": "unscoped",
    "notifications.update_target": "unscoped",
    "notifications.delete_target": "unscoped",
    "notifications.list_deliveries": "unscoped",
    "notifications.test_target": "unscoped",
    # A schedule is in scope iff its template is (all of the template's servers are).
    "schedules.list_schedules": "filtered",
    "schedules.get_schedule": "object",
    "schedules.schedule_runs": "object",
    "schedules.create_schedule": "targets",
    "schedules.update_schedule": "object",
    "schedules.delete_schedule": "object",
    # A trigger is its template's: visible iff every server the template targets is in scope.
    "triggers.list_triggers": "object",
    "triggers.create_trigger": "object",
    "triggers.update_trigger": "object",
    "triggers.delete_trigger": "object",
    "triggers.rotate_trigger": "object",
}


UNSCOPED_ONLY: Final = "this needs an administrator without a scope; the caller is limited to some groups or servers"


def scope_rule(endpoint: str | None) -> ScopeRule:
    """An endpoint missing from the table needs an unscoped caller: closed, not open, by default."""
    return ENDPOINT_SCOPES.get(endpoint or "", "unscoped")
