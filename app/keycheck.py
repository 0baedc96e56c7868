"""The key check value: which key encrypts this deployment's secrets, kept in the database itself.

Every process with its own key file (no NEWREMORA_SECRET_KEY) once encrypted secrets that the others could not
read, and their jobs stalled. Now a process opens the database only if one of its keys decrypts the stored
check value (app/vault.py); the first process to find none writes it.

A database that has secrets but no check value (a deployment from before it existed): the key must decrypt at
least one of the stored secrets sampled below, else the process refuses to start; the first process whose key
does writes the check value, and from then on it alone decides.
"""

from __future__ import annotations

import enum
from typing import Final

import peewee as pw

from app.clock import utcnow
from app.db import database_proxy
from app.errors import KeyMismatch, SecretUnreadable
from app.models import Credential, Job, KeyCheck, PemFile, Server
from app.vault import Vault

KEY_CHECK_ID: Final = 1
# One stored secret of each kind is enough to tell the deployment's key from another.
SAMPLED_SECRETS: Final[tuple[pw.Field, ...]] = (
    Server.password_enc,
    Server.private_key_enc,
    Credential.password_enc,
    Credential.private_key_enc,
    PemFile.key_enc,
    Job.become_password_enc,
    Job.secret_parameters_enc,
)


class KeyCheckOutcome(enum.Enum):
    VERIFIED = "verified"
    WRITTEN = "written"  # none was stored: this key is now the deployment's
    ROTATED = "rotated"  # an older key of this process decrypted it: re-encrypted with the primary one


def verify_key(vault: Vault) -> KeyCheckOutcome:
    """In a database thread. Raises KeyMismatch when this process's key is not the deployment's."""
    with database_proxy.atomic():
        stored = KeyCheck.get_or_none(KeyCheck.id == KEY_CHECK_ID)
        if stored is None:
            _check_stored_secrets(vault)
            # Two processes starting at once: the first insert wins, the other verifies against it below.
            KeyCheck.insert(
                id=KEY_CHECK_ID, token=vault.key_check(), updated_at=utcnow()
            ).on_conflict_ignore().execute()
            written = KeyCheck.get(KeyCheck.id == KEY_CHECK_ID)
            rotated = vault.verify_key_check(written.token)
            return KeyCheckOutcome.WRITTEN if rotated is None else KeyCheckOutcome.VERIFIED
        rotated = vault.verify_key_check(stored.token)
        if rotated is None:
            return KeyCheckOutcome.VERIFIED
        # Only if nobody rotated it meanwhile: both would write a value the same keys decrypt anyway.
        KeyCheck.update(token=rotated, updated_at=utcnow()).where(
            (KeyCheck.id == KEY_CHECK_ID) & (KeyCheck.token == stored.token)
        ).execute()
        return KeyCheckOutcome.ROTATED


def _check_stored_secrets(vault: Vault) -> None:
    tokens = []
    for field in SAMPLED_SECRETS:
        token = field.model.select(field).where(field.is_null(False)).limit(1).scalar()
        if token is not None:
            tokens.append(str(token))
    if not tokens:
        return  # a new deployment: this key becomes its key
    for token in tokens:
        try:
            vault.decrypt(token)
            return
        except SecretUnreadable:
            continue
    raise KeyMismatch(
        f"{vault.source} decrypts none of the secrets stored in this database: this process's key is not the one "
        "that encrypts them; set NEWREMORA_SECRET_KEY to the deployment's key (the one its other processes use)"
    )
