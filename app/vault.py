"""Encryption of stored credentials (Fernet), with the key from the settings or a 0600 key file."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.errors import ConfigurationError, KeyMismatch, SecretUnreadable
from app.settings import Settings

KEY_FILE_NAME: Final = "secret.key"
# What the key check value encrypts (app/keycheck.py): any fixed text; only its decryption matters.
KEY_CHECK_MARKER: Final = "newremora key check v1"


class Vault:
    """Encrypts secrets before they reach the database and decrypts them for a run, nowhere else."""

    def __init__(self, keys: list[bytes], source: str = "NEWREMORA_SECRET_KEY") -> None:
        if not keys:
            raise ConfigurationError("no secret key given")
        # Where the key came from, for the message of a process whose key is not the deployment's.
        self.source = source
        # A separate key for digests, derived from the encryption key, so the two uses never mix.
        self._digest_key = hashlib.sha256(b"newremora digest\0" + keys[0]).digest()
        try:
            self._primary = Fernet(keys[0])
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except ValueError as exc:
            raise ConfigurationError(
                "NEWREMORA_SECRET_KEY: each key must be 32 url-safe base64-encoded bytes (make one with: "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
            ) from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        if settings.secret_key is not None:
            keys = [k.strip().encode() for k in settings.secret_key.reveal().split(",") if k.strip()]
            return cls(keys)
        path = settings.data_dir / KEY_FILE_NAME
        return cls([load_or_create_key_file(path)], source=f"the key file {path}")

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            # Never a bare InvalidToken: callers fail the one job or request, not the thread that asked.
            raise SecretUnreadable() from exc

    def key_check(self) -> str:
        """A new key check value: the marker, encrypted with the primary key."""
        return self.encrypt(KEY_CHECK_MARKER)

    def verify_key_check(self, token: str) -> str | None:
        """Raises KeyMismatch unless one of the keys decrypts the stored check value. Returns the value
        re-encrypted with the primary key when only an older key decrypted it (a rotation), else None."""
        try:
            if self._primary.decrypt(token.encode()).decode() == KEY_CHECK_MARKER:
                return None
        except InvalidToken:
            pass
        try:
            if self._fernet.decrypt(token.encode()).decode() == KEY_CHECK_MARKER:
                return self.key_check()
        except InvalidToken:
            pass
        raise KeyMismatch(
            f"{self.source} cannot decrypt this deployment's key check value: this process's key is not the one "
            "that encrypts its secrets; set NEWREMORA_SECRET_KEY to the deployment's key (the one its other "
            "processes use; during a rotation: new,old)"
        )

    def digest(self, *parts: str | int | None) -> str:
        """A keyed digest: equal parts give equal digests, and nobody without the key can test a guess."""
        message = "\0".join("" if part is None else str(part) for part in parts).encode()
        return hmac.new(self._digest_key, message, hashlib.sha256).hexdigest()[:32]

    def decrypt_optional(self, token: str | None) -> str | None:
        return None if token is None else self.decrypt(token)

    def encrypt_optional(self, plaintext: str | None) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext)


def load_or_create_key_file(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once must not each write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigurationError(f"{path} is readable by other users (mode {mode:o}); chmod 600 it") from None
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key
