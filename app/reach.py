"""How to reach a server: from a stored server (its credential, a job's become overrides) to the runner's
Target, and the secrets a job's output must never show. One walk over the secrets gives both, each secret
decrypted once, and only here."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Final

from app.errors import SecretUnreadable
from app.keys import unlocked_private_key
from app.models import Credential, Job, Server
from app.runner.spec import Target
from app.vault import Vault

DEFAULT_BECOME_USER: Final = "root"
# The encrypted fields a server, its credential or a job may hold (a job holds the become password only).
SECRET_FIELDS: Final = ("password_enc", "passphrase_enc", "become_password_enc", "private_key_enc")
# Lines of a private key this long are masked one by one (shorter ones, like its BEGIN line, are not secret).
MASKED_KEY_LINE: Final = 16
_UNREADABLE: Final = (
    "cannot be decrypted with this process's key (NEWREMORA_SECRET_KEY or its key file is not the key that "
    "encrypted it; give every process the deployment's key)"
)


@dataclass(frozen=True)
class Reach:
    target: Target
    # Every password, passphrase and key line the job could be given: its server's own, its credential's and
    # its become password, whether its connection uses them or not.
    masks: tuple[str, ...]
    # The values of the job's secret parameters (a template launch), by name: masked too.
    secret_parameters: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)


class _Plain:
    """The secrets of one server, its credential and one job, each decrypted when first asked for."""

    def __init__(self, server: Server, vault: Vault, job: Job | None) -> None:
        self.vault = vault
        self.holders: dict[str, Server | Credential | Job | None] = {
            "server": server,
            "credential": server.credential,
            "job": job,
        }
        self._decrypted: dict[tuple[str, str], str | None] = {}

    def stored(self, holder: str, field: str) -> bool:
        return getattr(self.holders[holder], field, None) is not None

    def get(self, holder: str, field: str) -> str | None:
        key = (holder, field)
        if key not in self._decrypted:
            try:
                self._decrypted[key] = self.vault.decrypt_optional(getattr(self.holders[holder], field, None))
            except SecretUnreadable as exc:
                raise SecretUnreadable(f"{self._whose(holder, field)} {_UNREADABLE}") from exc
        return self._decrypted[key]

    def _whose(self, holder: str, field: str) -> str:
        """Which secret, by its holder's name and the field (never its value)."""
        what = field.removesuffix("_enc").replace("_", " ")
        if holder == "job":
            return f"the job's {what}"
        return f"{holder} {getattr(self.holders[holder], 'name', '?')!r}: its {what}"

    def own_or_credential(self, field: str) -> str | None:
        """A server's own secret wins over its credential's (as a host variable wins over a group's in Ansible)."""
        return self.get("server", field) if self.stored("server", field) else self.get("credential", field)

    def secret_parameters(self) -> dict[str, str]:
        text = self.get("job", "secret_parameters_enc")
        values: dict[str, str] = json.loads(text) if text else {}
        return values

    def masks(self) -> tuple[str, ...]:
        found: list[str] = [value for value in self.secret_parameters().values() if value]
        for holder in self.holders:
            for field in SECRET_FIELDS:
                secret = self.get(holder, field)
                if not secret:
                    continue
                if field == "private_key_enc":
                    found += [line for line in secret.splitlines() if len(line) >= MASKED_KEY_LINE]
                else:
                    found.append(secret)
        return tuple(found)


def reach(server: Server, vault: Vault, job: Job | None = None) -> Reach:
    """What a job needs: its target, and what to mask in its output."""
    plain = _Plain(server, vault, job)
    return Reach(_target(server, plain, job), plain.masks(), plain.secret_parameters())


def target_for(server: Server, vault: Vault, job: Job | None = None) -> Target:
    """The target alone (a connectivity check, a cancel): only the secrets it uses are decrypted."""
    return _target(server, _Plain(server, vault, job), job)


def _target(server: Server, plain: _Plain, job: Job | None) -> Target:
    credential: Credential | None = server.credential
    password = private_key = None
    if server.auth_type == "password":
        password = plain.own_or_credential("password_enc")
    else:
        # The passphrase belongs with the key it opens.
        holder = "server" if plain.stored("server", "private_key_enc") else "credential"
        key = plain.get(holder, "private_key_enc")
        if key is not None:
            private_key = unlocked_private_key(key, plain.get(holder, "passphrase_enc"))
    become = bool(server.become) if job is None or job.become is None else bool(job.become)
    become_user = become_password = None
    if become:
        become_user = (job.become_user if job is not None else None) or server.become_user or DEFAULT_BECOME_USER
        # A job's own become password wins over the server's and the credential's.
        if job is not None and job.become_password_enc:
            become_password = plain.get("job", "become_password_enc")
        else:
            become_password = plain.own_or_credential("become_password_enc")
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
        credential_digest=plain.vault.digest(
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
