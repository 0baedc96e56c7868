"""SSH private keys: parsing what users send, without ever writing it anywhere."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import SSHPrivateKeyTypes

from app.errors import InvalidInput


@dataclass(frozen=True)
class ParsedKey:
    encrypted: bool
    # SHA256 fingerprint of the public half as ssh-keygen -l shows it; None while the key is locked.
    fingerprint: str | None


class KeyLocked(Exception):
    pass


# The OpenSSH loader's key types are not a subset of the PEM loader's (cryptography 51 reads composite
# ML-DSA keys only from OpenSSH files), so a loaded key is either.
LoadedKey = PrivateKeyTypes | SSHPrivateKeyTypes


def _load(text: str, passphrase: str | None) -> LoadedKey:
    data = text.encode()
    password = passphrase.encode() if passphrase is not None else None
    openssh_format = "BEGIN OPENSSH PRIVATE KEY" in text
    loader = serialization.load_ssh_private_key if openssh_format else serialization.load_pem_private_key
    try:
        return loader(data, password)
    except TypeError as exc:
        if password is None:
            raise KeyLocked() from exc
        raise InvalidInput("passphrase: the private key is not encrypted; leave it out") from exc
    except ValueError as exc:
        # A wrong passphrase shows up as a bad checksum (OpenSSH format) or a failed decrypt (PEM).
        if password is not None and ("checksum" in str(exc) or "password" in str(exc).lower()):
            raise InvalidInput("passphrase: it does not decrypt the private key") from exc
        raise InvalidInput("private key: not an SSH private key in OpenSSH or PEM format") from exc
    except UnsupportedAlgorithm as exc:
        raise InvalidInput(f"private key: unsupported key type or cipher ({exc})") from exc


def fingerprint(key: LoadedKey) -> str:
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return host_key_fingerprint(public.decode())


def host_key_fingerprint(public_key: str) -> str:
    """``SHA256:...`` of an OpenSSH public key line ("TYPE BASE64 [comment]"), as ssh-keygen -l prints it."""
    blob = base64.b64decode(public_key.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def parse_private_key(text: str, passphrase: str | None = None, *, allow_locked: bool = False) -> ParsedKey:
    """Check that ``text`` is a usable private key (and ``passphrase`` unlocks it)."""
    if "\x00" in text or "PRIVATE KEY-----" not in text:
        raise InvalidInput("private key: not an SSH private key in OpenSSH or PEM format")
    try:
        key = _load(text, passphrase)
    except KeyLocked:
        if allow_locked:
            return ParsedKey(encrypted=True, fingerprint=None)
        raise InvalidInput("passphrase: the private key is encrypted; give its passphrase") from None
    return ParsedKey(encrypted=passphrase is not None, fingerprint=fingerprint(key))


def unlocked_private_key(text: str, passphrase: str | None) -> str:
    """The key as OpenSSH text without a passphrase, for a 0600 file that lives only during a run.

    ssh cannot be given a passphrase non-interactively; opening the key here keeps the passphrase out of
    every process's argv and environment.
    """
    if passphrase is None:
        return text if text.endswith("\n") else text + "\n"
    key = _load(text, passphrase)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
