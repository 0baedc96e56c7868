"""Whose scope a stored launch runs within: a schedule's tick, a trigger's delivery (docs/orchestration.md,
"Schedules" and "Signed triggers"). Functions run in a database thread.

Saved with the schedule or trigger: its owner (the user who last saved it; none for the local owner or an
administrator key of no user) and the saving grant's own scope (an API key's own, narrower than its owner's; none
for a signed-in user, whose scope is the user's). At fire time the launch must stay within that grant's scope
within the owner's scope *now*: a scope names groups and servers, so a server later added to a template's group is
launched only if it is in that scope, as a person launching by hand would be refused it.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import Forbidden
from app.groups import visible_servers
from app.models import ApiKey, User
from app.principals import Principal
from app.scopes import Visible, narrowed, scope_from_json
from app.servers import get_server
from app.templates import definition_of, get_template, server_ids_of


@dataclass(frozen=True)
class Grant:
    owner_user_id: str | None
    scope: str | None  # the grant's own scope as stored (app/scopes.py JSON); None: the owner's alone


class OwnerDisabled(Forbidden):
    """The owner of a stored launch is disabled: nothing launches until an enabled user saves it again."""


class OutOfScope(Forbidden):
    """Some of the template's targets are now outside the owner's scope: nothing launches."""

    def __init__(self, message: str, servers: list[str]) -> None:
        super().__init__(message)
        self.servers = servers  # their names, for whoever already sees the template (never the webhook's sender)


def grant_of(principal: Principal) -> Grant:
    """What a principal saving a schedule or trigger leaves on it."""
    if principal.kind == "key" and principal.key_id is not None:
        key = ApiKey.get_or_none(ApiKey.id == principal.key_id)
        if key is not None:
            return Grant(principal.user_id, key.scope)
    if principal.user_id is None:
        # No user to look up at fire time: the scope it had is all there is.
        return Grant(None, principal.scope.to_json() if principal.scope is not None else None)
    return Grant(principal.user_id, None)


def visible_at_fire(grant: Grant) -> Visible:
    """The servers a launch saved by ``grant`` may reach now (None: every one). OwnerDisabled when its owner is."""
    owner_scope: str | None = None
    if grant.owner_user_id is not None:
        owner = User.get_or_none(User.id == grant.owner_user_id)
        if owner is None or owner.disabled_at is not None:
            name = owner.username if owner is not None else grant.owner_user_id
            raise OwnerDisabled(f"its owner {name} is disabled (an enabled user must save it again)")
        owner_scope = owner.scope
    return visible_servers(narrowed(scope_from_json(grant.scope), scope_from_json(owner_scope)))


def check_in_scope(template_id: str, visible: Visible) -> None:
    """OutOfScope unless every server the template targets now (a group's current members) is visible; NotFound
    for a template or group that is gone."""
    if visible is None:
        return
    targets = server_ids_of(definition_of(get_template(template_id)))
    outside = [one for one in targets if one not in visible]
    if outside:
        names = sorted(str(get_server(one).name) for one in outside)
        raise OutOfScope(
            f"{len(outside)} of the template's {len(targets)} target server(s) outside the owner's scope", names
        )
