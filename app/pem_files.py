"""Uploaded PEM keys: checked to be private keys, stored encrypted, never written under a client's name."""

from __future__ import annotations

import re
from typing import Final

from app.errors import InvalidInput, PayloadTooLarge
from app.keys import parse_private_key
from app.models import PemFile
from app.vault import Vault

# The client's file name is only echoed back as a label; anything that looks like a path is refused.
PLAIN_FILENAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,254}$")


def check_filename(filename: str | None) -> str:
    if not filename:
        return "key.pem"
    if ".." in filename or not PLAIN_FILENAME.fullmatch(filename):
        raise InvalidInput("pem_file: the file name must be a plain name (letters, digits, '.', '_', '-', ' ')")
    return filename


def store_pem(vault: Vault, filename: str | None, content: bytes, max_bytes: int) -> PemFile:
    if len(content) > max_bytes:
        raise PayloadTooLarge(f"pem_file: larger than {max_bytes} bytes")
    name = check_filename(filename)
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidInput("pem_file: not a PEM private key (binary content)") from None
    parsed = parse_private_key(text, allow_locked=True)
    return PemFile.create(
        filename=name,
        size=len(content),
        encrypted=parsed.encrypted,
        fingerprint=parsed.fingerprint,
        key_enc=vault.encrypt(text),
    )
