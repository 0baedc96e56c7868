"""``/api/v1/inventories``: Ansible inventories imported and exported."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.schemas.common import QueryModel, RequestModel


class InventoryImport(RequestModel):
    """An Ansible inventory, INI or YAML, as text (``format: auto`` lets Ansible's parsers decide)."""

    content: Annotated[str, Field(min_length=1, max_length=1024 * 1024)]
    format: Literal["auto", "ini", "yaml"] = "auto"
    dry_run: bool = False


class ImportedHost(BaseModel):
    name: str
    server_id: str | None
    groups: list[str]
    changes: list[str]
    ignored_vars: list[str]


class SkippedHost(BaseModel):
    name: str
    reason: str


class ImportReport(BaseModel):
    dry_run: bool
    created: list[ImportedHost]
    updated: list[ImportedHost]
    unchanged: list[ImportedHost]
    skipped: list[SkippedHost]
    groups_created: list[str]


class InventoryExportQuery(QueryModel):
    format: Literal["ini", "yaml"] = "yaml"
