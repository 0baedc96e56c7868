"""``/api/v1/credentials``: secrets shared by many servers; stored encrypted and never returned."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_request, validate_response

from app import credentials
from app.api.context import runtime
from app.schemas.common import Envelope
from app.schemas.credentials import CredentialCreate, CredentialDeleted, CredentialList, CredentialOut, CredentialUpdate

blueprint = Blueprint("credentials", __name__)


def credential_out(use: credentials.CredentialUse) -> CredentialOut:
    credential = use.credential
    return CredentialOut(
        id=credential.id,
        name=credential.name,
        description=credential.description,
        has_password=credential.password_enc is not None,
        has_private_key=credential.private_key_enc is not None,
        has_passphrase=credential.passphrase_enc is not None,
        has_become_password=credential.become_password_enc is not None,
        servers=use.servers,
        created_at=credential.created_at,
        updated_at=credential.updated_at,
    )


@blueprint.post("")
@validate_request(CredentialCreate)
@validate_response(Envelope[CredentialOut], 201)
async def create_credential(data: CredentialCreate) -> tuple[Envelope[CredentialOut], int]:
    rt = runtime()
    use = await rt.database.run(credentials.create_credential, rt.vault, data)
    return Envelope(data=credential_out(use)), 201


@blueprint.get("")
@validate_response(Envelope[CredentialList])
async def list_credentials() -> Envelope[CredentialList]:
    found = await runtime().database.run(credentials.list_credentials)
    return Envelope(data=CredentialList(credentials=[credential_out(use) for use in found]))


@blueprint.get("/<credential_id>")
@validate_response(Envelope[CredentialOut])
async def get_credential(credential_id: str) -> Envelope[CredentialOut]:
    def load() -> credentials.CredentialUse:
        return credentials.credential_use(credentials.get_credential(credential_id))

    return Envelope(data=credential_out(await runtime().database.run(load)))


@blueprint.route("/<credential_id>", methods=["PUT", "PATCH"])
@validate_request(CredentialUpdate)
@validate_response(Envelope[CredentialOut])
async def update_credential(credential_id: str, data: CredentialUpdate) -> Envelope[CredentialOut]:
    """Rotation: the servers using the credential connect afresh with the new secret."""
    rt = runtime()
    use = await rt.database.run(credentials.update_credential, rt.vault, credential_id, data)
    return Envelope(data=credential_out(use))


@blueprint.delete("/<credential_id>")
@validate_response(Envelope[CredentialDeleted])
async def delete_credential(credential_id: str) -> Envelope[CredentialDeleted]:
    """409 while servers use it."""
    deleted = await runtime().database.run(credentials.delete_credential, credential_id)
    return Envelope(data=CredentialDeleted(id=deleted, deleted=True))
