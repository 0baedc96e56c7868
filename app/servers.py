"""Server records: create, read, update, delete. Runs in a database thread; knows nothing of HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import peewee as pw

from app.clock import utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.groups import set_server_groups
from app.jobstates import CLAIMED
from app.keys import parse_private_key
from app.models import Credential, Job, PemFile, Server
from app.schemas.servers import ServerCreate, ServerUpdate
from app.vault import Vault

PEM_URL_PREFIX: Final = "/pem-files/"


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


# Fields set as given; secrets are given in clear and stored encrypted; the key has rules of its own.
PLAIN_FIELDS: Final[tuple[str, ...]] = (
    "name",
    "hostname",
    "port",
    "user",
    "auth_type",
    "is_active",
    "become",
    "become_user",
    "python_interpreter",
)
SECRET_FIELDS: Final[tuple[str, ...]] = ("password", "passphrase", "become_password")


def _same_secret(vault: Vault, stored: str | None, given: str | None) -> bool:
    if given is None:
        return stored is None
    return stored is not None and vault.decrypt(stored) == given


def _apply_one(server: Server, vault: Vault, name: str, value: Any) -> bool:
    if name in PLAIN_FIELDS:
        if getattr(server, name) == value:
            return False
        setattr(server, name, value)
        return True
    if name == "credential":
        if server.credential_id == (value.id if value is not None else None):
            return False
        server.credential = value
        return True
    if name in SECRET_FIELDS:
        column = f"{name}_enc"
        if _same_secret(vault, getattr(server, column), value):
            return False
        setattr(server, column, vault.encrypt_optional(value))
        return True
    if name == "private_key":
        if _same_secret(vault, server.private_key_enc, value):
            return False
        server.private_key_enc = vault.encrypt_optional(value)
        server.pem_file_url = None  # a key given directly replaces an uploaded one
        return True
    if name == "pem_file_url":
        had_key = server.private_key_enc is not None
        if value is None:  # explicit null: forget the key that came from the upload
            server.private_key_enc = None
            server.pem_file_url = None
            return had_key
        server.private_key_enc = vault.encrypt(_key_from_pem_url(vault, value))
        server.pem_file_url = value
        return True
    raise ValueError(f"{name}: not a field of a server")


def apply_changes(server: Server, vault: Vault, changes: Mapping[str, Any]) -> list[str]:
    """Set the given fields of a server (secrets in clear: they are encrypted here; ``credential`` a Credential
    or None), in the order given, with the rules that bind them; returns the names of those whose stored value
    changed (``credential_id`` for the credential). The API's create and update and the inventory import all
    change servers through here."""
    endpoint_before = (server.hostname, server.port)
    changed = [
        "credential_id" if name == "credential" else name
        for name, value in changes.items()
        if _apply_one(server, vault, name, value)
    ]
    if (server.hostname, server.port) != endpoint_before:
        # Another address is another machine: its host key is trusted afresh on first use.
        server.host_key = None
    return changed


def _credential(credential_id: str | None) -> Credential | None:
    if credential_id is None:
        return None
    credential = Credential.get_or_none(Credential.id == parse_id(credential_id, "Credential"))
    if credential is None:
        raise InvalidInput("credential_id: no credential has this id")
    return credential


def _requested_changes(fields: dict[str, Any]) -> dict[str, Any]:
    """What a create or update request asks of a server's fields, in the order they are applied (the schemas
    refuse a private_key together with a pem_file_url)."""
    changes: dict[str, Any] = {name: fields[name] for name in PLAIN_FIELDS if name in fields}
    if "credential_id" in fields:
        changes["credential"] = _credential(fields["credential_id"])
    changes |= {name: fields[name] for name in SECRET_FIELDS if name in fields}
    if fields.get("pem_file_url") is not None or "private_key" not in fields:
        changes |= {name: fields[name] for name in ("pem_file_url",) if name in fields}
    else:
        changes["private_key"] = fields["private_key"]
    return changes


def _save(server: Server, *, force_insert: bool = False) -> None:
    try:
        with Server._meta.database.atomic():
            server.save(force_insert=force_insert)
    except pw.IntegrityError as exc:
        raise Conflict(f"a server named {server.name!r} already exists") from exc


def create_server(vault: Vault, payload: ServerCreate) -> Server:
    fields = payload.model_dump(exclude_unset=False)
    server = Server()
    apply_changes(server, vault, _requested_changes({k: v for k, v in fields.items() if v is not None}))
    check_credentials(server, vault)
    with Server._meta.database.atomic():
        _save(server, force_insert=True)
        set_server_groups(server, payload.groups)
    return server


def update_server(vault: Vault, server_id: str, payload: ServerUpdate) -> Server:
    server = get_server(server_id)
    apply_changes(server, vault, _requested_changes(payload.model_dump(include=payload.model_fields_set)))
    check_credentials(server, vault)
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
        running = jobs.where(Job.status.in_(CLAIMED)).count()
        if running:
            raise Conflict(f"server has {running} starting or running job(s); cancel them before deleting the server")
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
