"""``/api/v1/servers``: the servers of the reference, and PEM uploads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Final

from quart import Blueprint, request
from quart_schema import DataSource, document_request, validate_querystring, validate_request, validate_response

from app import pem_files, servers
from app.api.context import current_principal, runtime, visible_servers
from app.clock import utcnow
from app.connectivity import check_servers
from app.errors import Forbidden, InvalidInput
from app.groups import groups_of
from app.groups import visible_servers as servers_in_scope
from app.keys import host_key_fingerprint
from app.models import Server
from app.runner.checks import TEST_COMMAND
from app.schemas.common import Envelope
from app.schemas.servers import (
    CheckStatus,
    CheckStatusQuery,
    CheckSummary,
    PemUploaded,
    PemUploadForm,
    ServerCheck,
    ServerCreate,
    ServerDeleted,
    ServerDeleteQuery,
    ServerList,
    ServerListQuery,
    ServerOut,
    ServerTest,
    ServerUpdate,
)
from app.scopes import Visible, require_visible
from app.vault import Vault

blueprint = Blueprint("servers", __name__)


def server_out(server: Server, groups: list[str]) -> ServerOut:
    return ServerOut(
        id=server.id,
        name=server.name,
        hostname=server.hostname,
        port=server.port,
        user=server.user,
        auth_type=server.auth_type,
        is_active=server.is_active,
        has_password=server.password_enc is not None,
        has_private_key=server.private_key_enc is not None,
        has_passphrase=server.passphrase_enc is not None,
        pem_file_url=server.pem_file_url,
        host_key_fingerprint=host_key_fingerprint(server.host_key) if server.host_key else None,
        credential_id=server.credential_id,
        groups=groups,
        become=server.become,
        become_user=server.become_user,
        has_become_password=server.become_password_enc is not None,
        python_interpreter=server.python_interpreter,
        created_at=server.created_at,
        updated_at=server.updated_at,
        last_status=server.last_status,
        last_checked_at=server.last_checked_at,
        last_response_time_ms=server.last_response_ms,
        last_message=server.last_message,
    )


def _must_see(server_id: str, visible: Visible) -> None:
    """A server out of the caller's scope is not found, as a missing one."""
    require_visible([servers.parse_id(server_id, "Server")], visible, "Server")


SHARED_CREDENTIAL: Final = (
    "a credential is shared by servers of any scope: giving one to a server, or pointing a server that has one "
    "elsewhere, needs an administrator without a scope"
)
_ENDPOINT_FIELDS: Final = frozenset({"hostname", "port", "user"})


def _no_borrowed_secrets(data: ServerCreate | ServerUpdate, current: Server | None) -> None:
    """A scoped administrator could otherwise aim a server of theirs at a host of their own and have a job hand it
    a credential's password that servers out of their scope use too."""
    given = data.credential_id if "credential_id" in data.model_fields_set else None
    if given is not None and (current is None or given != current.credential_id):
        raise Forbidden(SHARED_CREDENTIAL)
    if current is not None and current.credential_id is not None and _ENDPOINT_FIELDS & data.model_fields_set:
        raise Forbidden(SHARED_CREDENTIAL)


async def _one(fn: Callable[..., Server], *args: Any, named: str | None = None, lands: bool = False) -> ServerOut:
    """Run a server operation and read the server's groups in the same database call. ``named``: the server the
    path names, which must be in the caller's scope (404 otherwise); ``lands``: a change that must leave the
    server in the caller's scope (403 otherwise, and nothing is changed)."""
    scope, visible = current_principal().scope, await visible_servers()

    def work() -> tuple[Server, list[str]]:
        with Server._meta.database.atomic():
            if named is not None:
                _must_see(named, visible)
            server = fn(*args)
            if lands and scope is not None and server.id not in (servers_in_scope(scope) or ()):
                raise Forbidden("the server would be out of the caller's scope: put it in a group of that scope")
        return server, groups_of([server.id])[server.id]

    server, groups = await runtime().database.run(work)
    return server_out(server, groups)


@blueprint.post("")
@validate_request(ServerCreate)
@validate_response(Envelope[ServerOut], 201)
async def create_server(data: ServerCreate) -> tuple[Envelope[ServerOut], int]:
    """A caller with a scope creates a server only into it (``groups`` naming a group of that scope)."""
    if current_principal().scope is not None:
        _no_borrowed_secrets(data, None)
    return Envelope(data=await _one(servers.create_server, runtime().vault, data, lands=True)), 201


@blueprint.get("")
@validate_querystring(ServerListQuery)
@validate_response(Envelope[ServerList])
async def list_servers(query_args: ServerListQuery) -> Envelope[ServerList]:
    visible = await visible_servers()

    def work() -> tuple[list[Server], dict[str, list[str]]]:
        found = [s for s in servers.list_servers(query_args.active_only) if visible is None or s.id in visible]
        return found, groups_of(s.id for s in found)

    found, groups = await runtime().database.run(work)
    return Envelope(data=ServerList(servers=[server_out(s, groups[s.id]) for s in found]))


@blueprint.get("/<server_id>")
@validate_response(Envelope[ServerOut])
async def get_server(server_id: str) -> Envelope[ServerOut]:
    return Envelope(data=await _one(servers.get_server, server_id, named=server_id))


@blueprint.route("/<server_id>", methods=["PUT", "PATCH"])
@validate_request(ServerUpdate)
@validate_response(Envelope[ServerOut])
async def update_server(server_id: str, data: ServerUpdate) -> Envelope[ServerOut]:
    scoped = current_principal().scope is not None

    def update(vault: Vault, server_id: str, data: ServerUpdate) -> Server:
        if scoped:
            _no_borrowed_secrets(data, servers.get_server(server_id))
        return servers.update_server(vault, server_id, data)

    return Envelope(data=await _one(update, runtime().vault, server_id, data, named=server_id, lands=True))


@blueprint.delete("/<server_id>")
@validate_querystring(ServerDeleteQuery)
@validate_response(Envelope[ServerDeleted])
async def delete_server(server_id: str, query_args: ServerDeleteQuery) -> Envelope[ServerDeleted]:
    visible = await visible_servers()

    def work() -> servers.Deleted:
        _must_see(server_id, visible)
        return servers.delete_server(server_id, query_args.force)

    deleted = await runtime().database.run(work)
    return Envelope(data=ServerDeleted(id=deleted.id, deleted=True, deleted_jobs=deleted.deleted_jobs))


@blueprint.delete("/<server_id>/host-key")
@validate_response(Envelope[ServerOut])
async def forget_host_key(server_id: str) -> Envelope[ServerOut]:
    """Re-trust after an expected host key change: the next connection trusts the key it is shown."""
    return Envelope(data=await _one(servers.forget_host_key, server_id, named=server_id))


@blueprint.post("/upload-pem")
@document_request(PemUploadForm, source=DataSource.FORM_MULTIPART)
@validate_response(Envelope[PemUploaded], 201)
async def upload_pem() -> tuple[Envelope[PemUploaded], int]:
    files = await request.files
    upload = files.get("pem_file")
    if upload is None:
        raise InvalidInput("pem_file: is required (multipart/form-data file field)")
    rt = runtime()
    content = upload.read(rt.settings.max_pem_bytes + 1)
    pem = await rt.database.run(pem_files.store_pem, rt.vault, upload.filename, content, rt.settings.max_pem_bytes)
    uploaded = PemUploaded(
        filename=pem.filename,
        url=f"{servers.PEM_URL_PREFIX}{pem.id}",
        size=pem.size,
        encrypted=pem.encrypted,
        fingerprint=pem.fingerprint,
        uploaded_at=pem.uploaded_at,
    )
    return Envelope(data=uploaded), 201


@blueprint.post("/<server_id>/test")
@validate_response(Envelope[ServerTest])
async def test_server(server_id: str) -> Envelope[ServerTest]:
    """Runs ``echo 'test'`` on the server through Ansible."""
    rt = runtime()
    visible = await visible_servers()

    def load() -> Server:
        _must_see(server_id, visible)
        return servers.get_server(server_id)

    server = await rt.database.run(load)
    results = await asyncio.to_thread(check_servers, rt.settings, rt.database, rt.vault, [server], rt.metrics.run_ended)
    result = results[server.id]
    report = ServerTest(
        server_id=server.id,
        status="connected" if result.connected else "disconnected",
        response_time_ms=result.response_time_ms,
        test_command=TEST_COMMAND,
        test_output=result.output,
        message=result.message,
        failure_reason=result.failure_reason,
        timestamp=utcnow(),
    )
    return Envelope(data=report)


@blueprint.post("/check-status")
@validate_querystring(CheckStatusQuery)
@validate_response(Envelope[CheckStatus])
async def check_status(query_args: CheckStatusQuery) -> Envelope[CheckStatus]:
    """All (or the active) servers, checked concurrently in one Ansible run (a caller with a scope: those in it)."""
    rt = runtime()
    visible = await visible_servers()
    found = await rt.database.run(servers.list_servers, query_args.active_only)
    found = [server for server in found if visible is None or server.id in visible]
    started = time.monotonic()
    results = await asyncio.to_thread(check_servers, rt.settings, rt.database, rt.vault, found, rt.metrics.run_ended)
    duration_ms = round((time.monotonic() - started) * 1000)
    checks = [
        ServerCheck(
            server_id=server.id,
            name=server.name,
            status="connected" if results[server.id].connected else "disconnected",
            response_time_ms=results[server.id].response_time_ms,
            message=results[server.id].message,
            failure_reason=results[server.id].failure_reason,
        )
        for server in found
    ]
    connected = sum(1 for check in checks if check.status == "connected")
    summary = CheckSummary(
        total_checked=len(checks),
        connected=connected,
        disconnected=len(checks) - connected,
        check_duration_ms=duration_ms,
    )
    return Envelope(data=CheckStatus(servers=checks, summary=summary))
