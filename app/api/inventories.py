"""``/api/v1/inventories``: import an Ansible inventory into servers and groups; export them back."""

from __future__ import annotations

import asyncio

from quart import Blueprint, Response
from quart_schema import validate_querystring, validate_request, validate_response

from app.api.context import current_principal, runtime, visible_servers
from app.inventories.export import export_ini, export_yaml
from app.inventories.importer import HostOutcome, import_inventory
from app.inventories.parse import parse_inventory
from app.schemas.common import Envelope
from app.schemas.inventories import ImportedHost, ImportReport, InventoryExportQuery, InventoryImport, SkippedHost

blueprint = Blueprint("inventories", __name__)


def _host(outcome: HostOutcome) -> ImportedHost:
    return ImportedHost(
        name=outcome.name,
        server_id=outcome.server_id,
        groups=outcome.groups,
        changes=outcome.changes,
        ignored_vars=outcome.ignored_vars,
    )


@blueprint.post("/import")
@validate_request(InventoryImport)
@validate_response(Envelope[ImportReport])
async def import_(data: InventoryImport) -> Envelope[ImportReport]:
    """Creates or updates a server per host (matched by name) and a group per inventory group; reports each
    host as created, updated, unchanged or skipped (with the reason). ``dry_run`` reports without saving."""
    rt = runtime()
    # Ansible parses in a child process, waited for off the event loop and without holding a database connection.
    parsed = await asyncio.to_thread(parse_inventory, data.content, data.format)
    result = await rt.database.run(import_inventory, rt.vault, parsed, rt.settings.key_dir, data.dry_run)
    report = ImportReport(
        dry_run=result.dry_run,
        created=[_host(h) for h in result.created],
        updated=[_host(h) for h in result.updated],
        unchanged=[_host(h) for h in result.unchanged],
        skipped=[SkippedHost(name=name, reason=reason) for name, reason in result.skipped],
        groups_created=result.groups_created,
    )
    return Envelope(data=report)


@blueprint.get("/export")
@validate_querystring(InventoryExportQuery)
async def export(query_args: InventoryExportQuery) -> Response:
    """The servers and groups as an Ansible inventory (``format=ini|yaml``), secrets left out (a caller with a
    scope: the servers and groups in it)."""
    render = export_ini if query_args.format == "ini" else export_yaml
    text = await runtime().database.run(render, current_principal().scope, await visible_servers())
    content_type = "text/plain; charset=utf-8" if query_args.format == "ini" else "application/yaml; charset=utf-8"
    return Response(text, status=200, content_type=content_type)
