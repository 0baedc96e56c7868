"""``/api/v1/playbooks``: the playbook directory."""

from __future__ import annotations

from pydantic import BaseModel


class PlaybookInfo(BaseModel):
    name: str
    size: int


class PlaybookList(BaseModel):
    playbooks: list[PlaybookInfo]
