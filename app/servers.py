"""Server records: create, read, update, delete. Runs in a database thread; knows nothing of HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import peewee as pw

from app.clock import utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.groups import set_server_groups
from app.keys import parse_private_key
from app.models import Credential, Job, PemFile, Server
from app.schemas.servers import ServerCreate, ServerUpdate
from app.secrets import Vault

PEM_URL_PREFIX = "/pem-files/"
ACTIVE_JOB_STATUSES = ("queued", "running")


def parse_id(raw: str, what: str) -> str:
    """Canonical UUID text, or NotFound: an id that is not a UUID names nothing."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise NotFound(f"{what} not found") from None


def with_credentials() -> Any:
    """Servers with their credential loaded in the same query (a runner thread never lazy-loads it)."""
    return Server.select(Server, Credential).join(Credential, pw.JOIN.LEFT_OUTER)


def get_server(server_id: str) -> Server:
    server: Server | None = with_credentials().where(Server.id == parse_id(server_id, "Server")).first()
    if server is None:
        raise NotFound("Server not found")
    return server


def list_servers(active_only: bool) -> list[Server]:
    query = with_credentials().order_by(Server.name)
    if active_only:
        query = query.where(Server.is_active == True)  # noqa: E712 (Peewee expression)
    return list(query)


def _key_from_pem_url(vault: Vault, url: str) -> str:
    pem_id = url.removeprefix(PEM_URL_PREFIX) if url.startswith(PEM_URL_PREFIX) else ""
    try:
        pem_id = str(uuid.UUID(pem_id))
    except ValueError:
        raise InvalidInput("pem_file_url: must be a url returned by POST /api/v1/servers/upload-pem") from None
    pem = PemFile.get_or_none(PemFile.id == pem_id)
    if pem is None:
        raise InvalidInput("pem_file_url: no uploaded PEM file has this url")
    return vault.decrypt(pem.key_enc)


def check_credentials(server: Server, vault: Vault) -> None:
    """The server's auth_type must have its secret (its own, or its credential's), and a stored key must open
    with the stored passphrase."""
    credential: Credential | None = server.credential
    if (
        server.auth_type == "password"
        and server.password_enc is None
        and (credential is None or not credential.password_enc)
    ):
        raise InvalidInput("password: required when auth_type is 'password' (or a credential_id with a password)")
    if (
        server.auth_type == "key"
        and server.private_key_enc is None
        and (credential is None or not credential.private_key_enc)
    ):
        raise InvalidInput(
            "private_key: required when auth_type is 'key' (or pem_file_url, or a credential_id with a key)"
        )
    if server.private_key_enc is not None:
        passphrase = vault.decrypt(server.passphrase_enc) if server.passphrase_enc else None
        parse_private_key(vault.decrypt(server.private_key_enc), passphrase)


def _apply_credential(server: Server, fields: dict[str, Any]) -> None:
    if "credential_id" not in fields:
        return
    if fields["credential_id"] is None:
        server.credential = None
        return
    credential = Credential.get_or_none(Credential.id == parse_id(fields["credential_id"], "Credential"))
    if credential is None:
        raise InvalidInput("credential_id: no credential has this id")
    server.credential = credential


def _apply_settings(server: Server, vault: Vault, fields: dict[str, Any]) -> None:
    for name in ("become", "become_user", "python_interpreter"):
        if name in fields:
            setattr(server, name, fields[name])
    if "become_password" in fields:
        server.become_password_enc = vault.encrypt_optional(fields["become_password"])


def _apply_secrets(server: Server, vault: Vault, fields: dict[str, Any]) -> None:
    _apply_credential(server, fields)
    _apply_settings(server, vault, fields)
    if "password" in fields:
        server.password_enc = vault.encrypt_optional(fields["password"])
    if "passphrase" in fields:
        server.passphrase_enc = vault.encrypt_optional(fields["passphrase"])
    if fields.get("pem_file_url") is not None:
        server.private_key_enc = vault.encrypt(_key_from_pem_url(vault, fields["pem_file_url"]))
        server.pem_file_url = fields["pem_file_url"]
    elif "private_key" in fields:
        server.private_key_enc = vault.encrypt_optional(fields["private_key"])
        server.pem_file_url = None
    elif "pem_file_url" in fields:  # explicit null: forget the key that came from the upload
        server.private_key_enc = None
        server.pem_file_url = None


def _save(server: Server, *, force_insert: bool = False) -> None:
    try:
        with Server._meta.database.atomic():
            server.save(force_insert=force_insert)
    except pw.IntegrityError as exc:
        raise Conflict(f"a server named {server.name!r} already exists") from exc


def create_server(vault: Vault, payload: ServerCreate) -> Server:
    fields = payload.model_dump(exclude_unset=False)
    server = Server(
        name=payload.name,
        hostname=payload.hostname,
        port=payload.port,
        user=payload.user,
        auth_type=payload.auth_type,
        is_active=payload.is_active,
    )
    _apply_secrets(server, vault, {k: v for k, v in fields.items() if v is not None})
    check_credentials(server, vault)
    with Server._meta.database.atomic():
        _save(server, force_insert=True)
        set_server_groups(server, payload.groups)
    return server


def update_server(vault: Vault, server_id: str, payload: ServerUpdate) -> Server:
    server = get_server(server_id)
    changes = payload.model_dump(include=payload.model_fields_set)
    endpoint_before = (server.hostname, server.port)
    for name in ("name", "hostname", "port", "user", "auth_type", "is_active"):
        if name in changes:
            setattr(server, name, changes[name])
    _apply_secrets(server, vault, changes)
    check_credentials(server, vault)
    if (server.hostname, server.port) != endpoint_before:
        # Another address is another machine: its host key is trusted afresh on first use.
        server.host_key = None
    server.updated_at = utcnow()
    with Server._meta.database.atomic():
        _save(server)
        if payload.groups is not None:
            set_server_groups(server, payload.groups)
    return server


@dataclass(frozen=True)
class Deleted:
    id: str
    deleted_jobs: int


def delete_server(server_id: str, force: bool) -> Deleted:
    with Server._meta.database.atomic():
        server = get_server(server_id)
        jobs = Job.select().where(Job.server == server)
        job_count = jobs.count()
        if job_count and not force:
            raise Conflict(f"server has {job_count} job(s); delete with ?force=true to remove them with the server")
        running = jobs.where(Job.status == "running").count()
        if running:
            raise Conflict(f"server has {running} running job(s); cancel them before deleting the server")
        # Chunks go with their jobs (ON DELETE CASCADE).
        Job.delete().where(Job.server == server).execute()
        server.delete_instance()
    return Deleted(id=server.id, deleted_jobs=job_count)


def forget_host_key(server_id: str) -> Server:
    """The explicit re-trust: the next connection trusts whatever key the server presents then."""
    server = get_server(server_id)
    server.host_key = None
    server.updated_at = utcnow()
    server.save()
    return server
