"""A process whose key is not the deployment's refuses to start, with one line (the key check value), on both
databases; a rotation (new,old) opens and moves the check value to the new key."""

from __future__ import annotations

import peewee as pw
import pytest
from cryptography.fernet import Fernet
from quart.typing import TestClientProtocol as Client

from app.errors import KeyMismatch
from app.runtime import Runtime
from app.settings import Secret, Settings
from tests.helpers import create_server, password_server


def with_key(settings: Settings, key: str) -> Settings:
    return settings.replace(secret_key=Secret(key))


def opens(settings: Settings) -> None:
    Runtime.open(settings).close()


def refusal(settings: Settings) -> str:
    with pytest.raises(KeyMismatch) as caught:
        opens(settings)
    return str(caught.value)


def check_value(raw_db: pw.Database) -> str:
    return str(raw_db.execute_sql("SELECT token FROM key_check").fetchone()[0])


def test_another_key_is_refused_and_a_rotation_moves_the_check_value(settings: Settings, raw_db: pw.Database) -> None:
    first = settings.secret_key.reveal() if settings.secret_key else ""
    other = Fernet.generate_key().decode()
    opens(settings)  # the first process writes the check value with its key
    written = check_value(raw_db)

    message = refusal(with_key(settings, other))
    assert "\n" not in message and "set NEWREMORA_SECRET_KEY to the deployment's key" in message
    assert first not in message and other not in message  # never a key in the line
    assert check_value(raw_db) == written  # the refused process changed nothing

    opens(with_key(settings, f"{other},{first}"))  # rotation: the old key still decrypts it
    rotated = check_value(raw_db)
    assert rotated != written
    opens(with_key(settings, other))  # re-encrypted with the new primary key...
    refusal(with_key(settings, first))  # ...so the old key alone is now another key


async def test_a_deployment_from_before_the_check_value_is_checked_against_its_secrets(
    client: Client, settings: Settings, raw_db: pw.Database
) -> None:
    await create_server(client, password_server("stored", password="pw-stored"))
    raw_db.execute_sql("DELETE FROM key_check")  # as a database migrated from before 0007

    message = refusal(with_key(settings, Fernet.generate_key().decode()))
    assert "decrypts none of the secrets stored" in message
    assert raw_db.execute_sql("SELECT count(*) FROM key_check").fetchone()[0] == 0

    opens(settings)  # the deployment's key decrypts them: it writes the check value
    assert raw_db.execute_sql("SELECT count(*) FROM key_check").fetchone()[0] == 1
