"""Shared credentials: secrets many servers reference instead of carrying their own. Runs in a database thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import peewee as pw

from app.clock import utcnow
from app.db import rows
from app.errors import Conflict, InvalidInput, NotFound
from app.keys import parse_private_key
from app.models import Credential, Server
from app.schemas.credentials import CredentialCreate, CredentialUpdate
from app.servers import parse_id
from app.vault import Vault

SECRET_FIELDS: Final = ("password", "private_key", "passphrase", "become_password")


def get_credential(credential_id: str) -> Credential:
    credential = Credential.get_or_none(Credential.id == parse_id(credential_id, "Credential"))
    if credential is None:
        raise NotFound("Credential not found")
    return credential


def find_credential(reference: str) -> Credential | None:
    """By id or by name (inventories name them)."""
    by_name = Credential.get_or_none(Credential.name == reference)
    if by_name is not None:
        return by_name
    try:
        return get_credential(reference)
    except NotFound:
        return None


@dataclass(frozen=True)
class CredentialUse:
    credential: Credential
    servers: int


def list_credentials() -> list[CredentialUse]:
    query = Server.select(Server.credential, pw.fn.COUNT(Server.id)).where(Server.credential.is_null(False))
    counts = {str(credential_id): int(count) for credential_id, count in rows(query.group_by(Server.credential))}
    return [CredentialUse(c, int(counts.get(c.id, 0))) for c in Credential.select().order_by(Credential.name)]


def credential_use(credential: Credential) -> CredentialUse:
    return CredentialUse(credential, Server.select().where(Server.credential == credential).count())


def _apply(credential: Credential, vault: Vault, fields: dict[str, Any]) -> None:
    for name in SECRET_FIELDS:
        if name in fields:
            setattr(credential, f"{name}_enc", vault.encrypt_optional(fields[name]))
    if "name" in fields:
        credential.name = fields["name"]
    if "description" in fields:
        credential.description = fields["description"]
    if not any(getattr(credential, f"{name}_enc") for name in ("password", "private_key", "become_password")):
        raise InvalidInput("password: a credential needs a password, a private_key or a become_password")
    if credential.passphrase_enc is not None and credential.private_key_enc is None:
        raise InvalidInput("passphrase: only with a private_key")
    if credential.private_key_enc is not None:
        passphrase = vault.decrypt_optional(credential.passphrase_enc)
        parse_private_key(vault.decrypt(credential.private_key_enc), passphrase)


def _save(credential: Credential, *, force_insert: bool = False) -> None:
    try:
        with Credential._meta.database.atomic():
            credential.save(force_insert=force_insert)
    except pw.IntegrityError as exc:
        raise Conflict(f"a credential named {credential.name!r} already exists") from exc


def create_credential(vault: Vault, payload: CredentialCreate) -> CredentialUse:
    credential = Credential()
    _apply(credential, vault, payload.model_dump(exclude_none=True))
    _save(credential, force_insert=True)
    return CredentialUse(credential, 0)


def update_credential(vault: Vault, credential_id: str, payload: CredentialUpdate) -> CredentialUse:
    """Partial update (rotation): only the fields present change; ``null`` clears a secret. Servers that use
    the credential get fresh SSH connections (the control path depends on the secrets)."""
    credential = get_credential(credential_id)
    _apply(credential, vault, payload.model_dump(include=payload.model_fields_set))
    credential.updated_at = utcnow()
    _save(credential)
    return credential_use(credential)


def delete_credential(credential_id: str) -> str:
    with Credential._meta.database.atomic():
        credential = get_credential(credential_id)
        users = Server.select(Server.name).where(Server.credential == credential).order_by(Server.name)
        names = [server.name for server in users.limit(6)]
        if names:
            listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise Conflict(f"credential is used by {users.count()} server(s) ({listed}); point them elsewhere first")
        credential.delete_instance()
    return str(credential.id)
