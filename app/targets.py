"""From a stored server (and its credential, and a job's become overrides) to what the runner needs to reach
it: credentials decrypted, only here."""

from __future__ import annotations

from app.keys import unlocked_private_key
from app.models import Credential, Job, Server
from app.runner.spec import Target
from app.vault import Vault

DEFAULT_BECOME_USER = "root"


def _own_or_credential(own: str | None, credential: Credential | None, field: str) -> str | None:
    """A server's own secret wins over its credential's (as a host variable wins over a group's in Ansible)."""
    if own is not None:
        return own
    return getattr(credential, field) if credential is not None else None


def target_for(server: Server, vault: Vault, job: Job | None = None) -> Target:
    credential: Credential | None = server.credential
    password = private_key = None
    if server.auth_type == "password":
        password = vault.decrypt_optional(_own_or_credential(server.password_enc, credential, "password_enc"))
    else:
        key_enc = _own_or_credential(server.private_key_enc, credential, "private_key_enc")
        if key_enc is not None:
            # The passphrase belongs with the key it opens.
            passphrase_enc = server.passphrase_enc if server.private_key_enc is not None else credential.passphrase_enc  # type: ignore[union-attr]
            private_key = unlocked_private_key(vault.decrypt(key_enc), vault.decrypt_optional(passphrase_enc))
    become = bool(server.become) if job is None or job.become is None else bool(job.become)
    become_user = become_password = None
    if become:
        become_user = (job.become_user if job is not None else None) or server.become_user or DEFAULT_BECOME_USER
        become_password_enc = (job.become_password_enc if job is not None else None) or _own_or_credential(
            server.become_password_enc, credential, "become_password_enc"
        )
        become_password = vault.decrypt_optional(become_password_enc)
    return Target(
        server_id=server.id,
        hostname=server.hostname,
        port=server.port,
        user=server.user,
        password=password,
        private_key=private_key,
        host_key=server.host_key,
        become_user=become_user,
        become_password=become_password,
        python_interpreter=server.python_interpreter,
        # Same endpoint, credential and trusted host key, and no change to the server since: same SSH master.
        # Anything else gets its own, so a re-trusted key is always checked on a fresh connection, and a
        # rotated shared credential never meets a connection opened with the old one.
        credential_digest=vault.digest(
            server.id,
            server.hostname,
            server.port,
            server.user,
            password,
            private_key,
            server.host_key,
            server.updated_at.isoformat(),
            server.credential_id,
            credential.updated_at.isoformat() if credential is not None else None,
        ),
    )
