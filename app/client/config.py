"""Where the service is and the API key to present: options first, then environment, then a file.

The key is never taken from the command line: argv is readable by every user of the machine (``ps``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from app.client.errors import ClientError
from app.settings import Secret

DEFAULT_URL: Final = "http://127.0.0.1:8080"
URL_VARIABLE: Final = "NEWREMORA_URL"
TOKEN_VARIABLE: Final = "NEWREMORA_TOKEN"  # noqa: S105 (the name of the variable, not a key)
TOKEN_FILE_VARIABLE: Final = "NEWREMORA_TOKEN_FILE"  # noqa: S105


def default_token_file(environ: Mapping[str, str]) -> Path:
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")).expanduser() / ".config")
    return Path(config_home) / "newremora" / "token"


@dataclass(frozen=True)
class ClientConfig:
    url: str
    token: Secret | None

    @classmethod
    def load(cls, url: str | None, token_file: str | None, environ: Mapping[str, str] | None = None) -> ClientConfig:
        environ = os.environ if environ is None else environ
        return cls(url=_service_url(url or environ.get(URL_VARIABLE) or DEFAULT_URL), token=_token(token_file, environ))


def _service_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(f"service URL: expected http(s)://HOST[:PORT], got {raw!r}")
    if parts.query or parts.fragment:
        raise ClientError("service URL: no query string or fragment, only http(s)://HOST[:PORT][/PREFIX]")
    return raw.strip().rstrip("/")


def _token(token_file: str | None, environ: Mapping[str, str]) -> Secret | None:
    if token_file:
        return _read_token_file(Path(token_file))
    if environ.get(TOKEN_VARIABLE):
        return Secret(environ[TOKEN_VARIABLE].strip())
    if environ.get(TOKEN_FILE_VARIABLE):
        return _read_token_file(Path(environ[TOKEN_FILE_VARIABLE]))
    default = default_token_file(environ)
    return _read_token_file(default) if default.is_file() else None


def _read_token_file(path: Path) -> Secret:
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip()
    except OSError as exc:
        raise ClientError(f"API key file {path}: {exc.strerror or exc}") from exc
    # As ssh does with private keys: a key others can read is no longer a secret.
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ClientError(f"API key file {path}: readable by other users; chmod 600 it")
    if not text or len(text.split()) != 1:
        raise ClientError(f"API key file {path}: expected one API key (nr_...)")
    return Secret(text)
