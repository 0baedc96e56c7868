"""``/api/v1/groups``: server groups, as nested Ansible groups."""

from __future__ import annotations

from pydantic import BaseModel


class GroupOut(BaseModel):
    name: str
    children: list[str]
    parents: list[str]
    servers: list[str]
    total_servers: int


class GroupList(BaseModel):
    groups: list[GroupOut]
