"""``/api/v1/groups``: the groups servers are in (set through the servers API or an inventory import)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_response

from app.api.context import runtime
from app.groups import list_groups
from app.schemas.common import Envelope
from app.schemas.groups import GroupList, GroupOut

blueprint = Blueprint("groups", __name__)


@blueprint.get("")
@validate_response(Envelope[GroupList])
async def groups() -> Envelope[GroupList]:
    """Each group with its nested groups, its parents, the servers directly in it, and how many servers it
    reaches with its nested groups (what a job on the group runs on, inactive servers aside)."""
    found = await runtime().database.run(list_groups)
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
