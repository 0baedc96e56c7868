"""``/api/v1/playbooks``: the playbooks of the playbook directory, which playbook jobs name."""

from __future__ import annotations

import asyncio

from quart import Blueprint
from quart_schema import validate_response

from app.api.context import runtime
from app.playbooks import list_playbooks, open_directory
from app.schemas.common import Envelope
from app.schemas.playbooks import PlaybookInfo, PlaybookList

blueprint = Blueprint("playbooks", __name__)


@blueprint.get("")
@validate_response(Envelope[PlaybookList])
async def playbooks() -> Envelope[PlaybookList]:
    directory = runtime().settings.playbook_dir
    found = await asyncio.to_thread(lambda: list_playbooks(open_directory(directory)))
    return Envelope(data=PlaybookList(playbooks=[PlaybookInfo(name=p.name, size=p.size) for p in found]))
