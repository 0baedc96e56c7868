"""From a stored server to what the runner needs to reach it (credentials decrypted, only here)."""

from __future__ import annotations

from app.keys import unlocked_private_key
from app.models import Server
from app.runner.spec import Target
from app.secrets import Vault


def target_for(server: Server, vault: Vault) -> Target:
    password = private_key = None
    if server.auth_type == "password":
        password = vault.decrypt_optional(server.password_enc)
    elif server.private_key_enc is not None:
        passphrase = vault.decrypt_optional(server.passphrase_enc)
        private_key = unlocked_private_key(vault.decrypt(server.private_key_enc), passphrase)
    return Target(
        server_id=server.id,
        hostname=server.hostname,
        port=server.port,
        user=server.user,
        password=password,
        private_key=private_key,
        host_key=server.host_key,
        # Same endpoint, credential and trusted host key, and no change to the server since: same SSH master.
        # Anything else gets its own, so a re-trusted key is always checked on a fresh connection.
        credential_digest=vault.digest(
            server.id,
            server.hostname,
            server.port,
            server.user,
            password,
            private_key,
            server.host_key,
            server.updated_at.isoformat(),
        ),
    )
