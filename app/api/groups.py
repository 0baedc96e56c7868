"""``/api/v1/groups``: the groups servers are in (set through the servers API or an inventory import)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_response

from app.api.context import current_principal, runtime, visible_servers
from app.groups import GroupInfo, list_groups, visible_groups
from app.schemas.common import Envelope
from app.schemas.groups import GroupList, GroupOut

blueprint = Blueprint("groups", __name__)


@blueprint.get("")
@validate_response(Envelope[GroupList])
async def groups() -> Envelope[GroupList]:
    """Each group with its nested groups, its parents, the servers directly in it, and how many servers it
    reaches with its nested groups (what a job on the group runs on, inactive servers aside). A caller with a scope
    sees the groups all of whose servers are in it (and the groups granted to it)."""
    scope, visible = current_principal().scope, await visible_servers()

    def load() -> list[GroupInfo]:
        found = list_groups()
        shown = visible_groups(scope, visible)
        if shown is None:
            return found
        return [
            GroupInfo(
                g.name,
                [c for c in g.children if c in shown],
                [p for p in g.parents if p in shown],
                g.servers,
                g.all_servers,
            )
            for g in found
            if g.name in shown
        ]

    found = await runtime().database.run(load)
    return Envelope(
        data=GroupList(
            groups=[
                GroupOut(
                    name=g.name,
                    children=g.children,
                    parents=g.parents,
                    servers=g.servers,
                    total_servers=g.all_servers,
                )
                for g in found
            ]
        )
    )
