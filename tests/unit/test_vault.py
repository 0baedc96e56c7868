"""Credentials encryption: round trip, key rotation, and the generated key file's permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.errors import ConfigurationError, KeyMismatch, SecretUnreadable
from app.settings import Secret, Settings
from app.vault import Vault, load_or_create_key_file


def test_round_trip_and_ciphertext_hides_the_secret() -> None:
    vault = Vault([Fernet.generate_key()])
    token = vault.encrypt("hunter2")
    assert "hunter2" not in token
    assert vault.decrypt(token) == "hunter2"


def test_rotation_decrypts_with_old_keys_and_encrypts_with_the_first() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    token = Vault([old]).encrypt("s")
    rotated = Vault.from_settings(Settings(secret_key=Secret(f"{new.decode()},{old.decode()}")))
    assert rotated.decrypt(token) == "s"
    assert Vault([new]).decrypt(rotated.encrypt("t")) == "t"
    with pytest.raises(SecretUnreadable, match="cannot be decrypted"):
        Vault([new]).decrypt(token)


def test_the_key_check_value_accepts_any_configured_key_and_is_rotated_to_the_first() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    check = Vault([old]).key_check()
    assert Vault([old]).verify_key_check(check) is None  # the primary key decrypts it: nothing to rewrite
    rotated = Vault([new, old]).verify_key_check(check)
    assert rotated is not None and Vault([new]).verify_key_check(rotated) is None
    with pytest.raises(KeyMismatch, match="NEWREMORA_SECRET_KEY cannot decrypt") as caught:
        Vault([new]).verify_key_check(check)
    assert old.decode() not in str(caught.value) and new.decode() not in str(caught.value)


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    first = load_or_create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key_file(path) == first
    vault = Vault.from_settings(Settings(data_dir=tmp_path / "data"))
    assert Vault([first]).decrypt(vault.encrypt("x")) == "x"


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    load_or_create_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_or_create_key_file(path)


def test_malformed_keys_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Vault.from_settings(Settings(secret_key=Secret("not-a-fernet-key")))
    assert "not-a-fernet-key" not in str(caught.value)
