"""Typed settings, read once from ``NEWREMORA_*`` environment variables."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from app.errors import ConfigurationError
from app.oidc_claims import RoleMapEntry, parse_role_map

PREFIX: Final = "NEWREMORA_"


class Secret:
    """A string that never shows itself in ``repr``/``str`` (settings end up in logs and tracebacks)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class IntIn:
    """Parses an integer in ``low..high``; its bounds are readable (the runtime settings show and check them)."""

    low: int
    high: int

    def __call__(self, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected an integer, got {raw!r}") from None
        if not self.low <= value <= self.high:
            raise ValueError(f"expected an integer in {self.low}..{self.high}, got {value}")
        return value


@dataclass(frozen=True)
class Choice:
    """Parses one of ``allowed`` (case-insensitive); the choices are readable, as ``IntIn``'s bounds."""

    allowed: tuple[str, ...]

    def __call__(self, raw: str) -> str:
        value = raw.strip().lower()
        if value not in self.allowed:
            raise ValueError(f"expected one of {', '.join(self.allowed)}, got {raw!r}")
        return value


def _int_in(low: int, high: int) -> IntIn:
    return IntIn(low, high)


def _choice(*allowed: str) -> Choice:
    return Choice(allowed)


def _database_url(raw: str) -> str:
    if not raw.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ValueError("expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
    return raw


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ValueError(f"expected * or origins like https://ops.example.com, got {origin!r}")
    return origins


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for part in (part.strip() for part in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"expected IP addresses or networks like 10.0.0.5 or 10.0.0.0/24, got {part!r}") from None
    return tuple(networks)


def _hosts(raw: str) -> tuple[str, ...]:
    hosts = tuple(part.strip().lower().rstrip(".") for part in raw.split(",") if part.strip())
    for host in hosts:
        if host != "*" and not re.fullmatch(r"\.?[a-z0-9_.:\[\]-]+", host):
            raise ValueError(f"expected host names like ops.example.com or .example.com (a domain), got {host!r}")
    return hosts


def _issuer(raw: str) -> str:
    if not raw.startswith(("https://", "http://")):
        raise ValueError(f"expected the issuer's URL, like https://login.example.com/realms/ops, got {raw!r}")
    return raw


def _public_url(raw: str) -> str:
    if not raw.startswith(("https://", "http://")):
        raise ValueError(f"expected the service's address, like https://ops.example.com, got {raw!r}")
    return raw.rstrip("/")


def _words(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in re.split(r"[,\s]+", raw) if part.strip())


def _scopes(raw: str) -> str:
    scopes = _words(raw)
    if "openid" not in scopes:
        raise ValueError(f"the scopes must include openid, got {raw!r}")
    return " ".join(scopes)


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise ValueError(f"expected true or false, got {raw!r}")
    return value in ("true", "1")


def _setting(default: Any, parse: Callable[[str], Any], doc: str) -> Any:
    return field(default=default, metadata={"parse": parse, "doc": doc})


@dataclass(frozen=True)
class Settings:
    host: str = _setting("127.0.0.1", str, "Address the HTTP server listens on.")
    port: int = _setting(8080, _int_in(0, 65535), "TCP port of the HTTP server.")
    data_dir: Path = _setting(
        Path("var"), Path, "Directory of the embedded SQLite database and the generated secret key file."
    )
    database_url: str | None = _setting(
        None,
        _database_url,
        "Database URL; unset means SQLite in the data dir. Example: postgresql://user@127.0.0.1:5432/db",
    )
    secret_key: Secret | None = _setting(
        None,
        Secret,
        "Fernet key(s) encrypting stored credentials, comma-separated for rotation (the first encrypts). "
        "Unset: a 0600 key file is created in the data dir.",
    )
    max_body_bytes: int = _setting(1024 * 1024, _int_in(1024, 1024**3), "Largest accepted request body (413 beyond).")
    max_pem_bytes: int = _setting(64 * 1024, _int_in(1024, 1024**2), "Largest accepted PEM upload (413 beyond).")
    db_threads: int = _setting(
        16, _int_in(1, 256), "Threads (and pooled connections) that run database work for the API."
    )
    workers: int = _setting(
        16, _int_in(0, 256), "Worker threads (concurrent Ansible runs) of this process (0: API only)."
    )
    batch_size: int = _setting(
        32, _int_in(1, 256), "Most jobs in one round of a worker thread's Ansible run (forks = batch size)."
    )
    server_concurrency: int = _setting(
        8, _int_in(1, 1000), "Most jobs running at once on one server (keep it below the target's sshd MaxSessions)."
    )
    max_output_bytes: int = _setting(
        10 * 1024 * 1024,
        _int_in(4096, 1024**3),
        "Output stored per job; beyond it the head and the tail are kept with a marker between them.",
    )
    max_job_timeout: int = _setting(
        7 * 24 * 3600, _int_in(1, 365 * 24 * 3600), "Largest job timeout accepted, in seconds."
    )
    kill_grace: int = _setting(5, _int_in(1, 300), "Seconds between TERM and KILL when a job is canceled or times out.")
    control_dir: Path | None = _setting(
        None,
        Path,
        "Directory of SSH control sockets shared between runs (short path; default /tmp/newremora-ssh-UID).",
    )
    playbook_dir: Path | None = _setting(
        None,
        Path,
        "Directory of the playbooks that POST /api/v1/jobs/playbook may run, by file name (unset: none).",
    )
    reconnect_grace: int = _setting(
        300,
        _int_in(0, 7 * 24 * 3600),
        "Seconds a running job's server may stay unreachable (the service reconnects and re-attaches meanwhile) "
        "before the job ends failed / interrupted (0: at the first lost connection).",
    )
    stall_timeout: int = _setting(
        120,
        _int_in(10, 3600),
        "Seconds without a sign of life from a worker thread's Ansible run before its jobs are re-attached.",
    )
    sse_keepalive: int = _setting(15, _int_in(1, 300), "Seconds between keep-alive comments on an idle event stream.")
    sse_fallback_poll: int = _setting(
        2, _int_in(1, 3600), "Seconds between database reads of an open stream when nothing woke it (the fallback)."
    )
    cors_origins: tuple[str, ...] = _setting(
        (),
        _origins,
        "Comma-separated origins allowed to call the API from a page on another site (*: any site's page may read, "
        "never change).",
    )
    allowed_hosts: tuple[str, ...] | None = _setting(
        None,
        _hosts,
        "Comma-separated Host names the service answers to (.example.com: the domain and its subdomains; *: any). "
        "Unset: the listen address's names (plus localhost on loopback; any IP address on 0.0.0.0 or ::).",
    )
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = _setting(
        (),
        _networks,
        "Comma-separated IPs or networks of reverse proxies whose X-Forwarded-For / -Proto are believed "
        "(unset: none; the client address is the socket's peer).",
    )
    rate_limit: int = _setting(
        100, _int_in(0, 1_000_000), "Requests per minute per client address to /api/v1 (0: no limit)."
    )
    job_rate_limit: int = _setting(
        1000, _int_in(0, 10_000_000), "Job submissions per hour per client address (0: no limit)."
    )
    trigger_max_body_bytes: int = _setting(
        256 * 1024,
        _int_in(1024, 1024**3),
        "Largest body a signed trigger accepts (413 beyond; the smaller of it and NEWREMORA_MAX_BODY_BYTES).",
    )
    key_dir: Path | None = _setting(
        None,
        Path,
        "Directory from which inventory imports may read ansible_ssh_private_key_file (unset: key files are refused).",
    )
    audit_retention_days: int = _setting(
        400,
        _int_in(0, 100 * 365),
        "Days audit rows are kept; older ones are pruned by the service, in small batches, hourly (0: kept forever).",
    )
    job_retention_days: int = _setting(
        0,
        _int_in(0, 100 * 365),
        "Days an ended job is kept after it finished; older ones are deleted with their output by the service, in "
        "small batches, hourly (0: kept forever).",
    )
    output_retention_days: int = _setting(
        0,
        _int_in(0, 100 * 365),
        "Days an ended job's output is kept after it finished; then only the output goes (the job keeps its status "
        "and exit code, and says output_pruned_at) (0: kept forever).",
    )
    notification_retention_days: int = _setting(
        30,
        _int_in(0, 100 * 365),
        "Days a delivered or dead notification (with its attempts) is kept after its event; pending ones are never "
        "pruned (0: kept forever).",
    )
    session_idle_minutes: int = _setting(
        60, _int_in(1, 7 * 24 * 60), "Minutes without a request after which a browser session ends (sign in again)."
    )
    session_max_hours: int = _setting(
        12, _int_in(1, 90 * 24), "Hours after sign-in at which a browser session ends, however busy."
    )
    signin_user_failures: int = _setting(
        5, _int_in(1, 1000), "Refused sign-ins per username in the window after which that username is locked out."
    )
    signin_address_failures: int = _setting(
        20, _int_in(1, 100_000), "Refused sign-ins per client address in the window after which it is locked out."
    )
    signin_window_minutes: int = _setting(
        15, _int_in(1, 24 * 60), "Minutes over which refused sign-ins are counted; a lockout lasts until they age out."
    )
    public_url: str | None = _setting(
        None,
        _public_url,
        "The service's address as people reach it, e.g. https://ops.example.com (links in notifications). Unset: "
        "http://HOST:PORT of NEWREMORA_HOST and NEWREMORA_PORT (this machine's name for 0.0.0.0 or ::).",
    )
    notify_backoff: int = _setting(
        5,
        _int_in(1, 3600),
        "Seconds before a failed notification is sent again; doubled at each attempt (with jitter), at most an hour.",
    )
    notify_max_attempts: int = _setting(
        10, _int_in(1, 100), "Attempts at delivering one notification before it is given up (state dead)."
    )
    log_level: str = _setting("info", _choice("debug", "info", "warning", "error"), "Logging level.")
    log_format: str = _setting(
        "text", _choice("text", "json"), "text: one line per record for people; json: one JSON object per line."
    )
    metrics_token: Secret | None = _setting(
        None, Secret, "Bearer token /metrics requires (unset: /metrics is open, like /health)."
    )
    metrics_port: int = _setting(
        0, _int_in(0, 65535), "Port on which `newremora worker` serves /metrics (0: none; serve uses its own port)."
    )
    allow_open_api: bool = _setting(
        False,
        _flag,
        "true: serve on a non-loopback address while no user and no API key exists (anyone who reaches the port "
        "is an administrator). Unset: such a start is refused.",
    )
    oidc_issuer: str | None = _setting(
        None,
        _issuer,
        "OpenID Connect issuer URL, exactly as its tokens' iss says (unset: no single sign-on, no bearer JWTs). "
        "Set: the API is never open (single-user mode is off).",
    )
    oidc_client_id: str | None = _setting(None, str, "Client id registered at the OpenID Connect provider.")
    oidc_client_secret: Secret | None = _setting(
        None, Secret, "Client secret of that client (unset: a public client, PKCE only)."
    )
    oidc_audience: tuple[str, ...] = _setting(
        (), _words, "Comma-separated audiences accepted in bearer JWTs' aud (unset: the client id)."
    )
    oidc_scopes: str = _setting("openid profile email", _scopes, "Scopes asked for at sign-in (must include openid).")
    oidc_username_claim: str = _setting(
        "preferred_username", str, "Claim naming a first-time user's local username (falls back to sub)."
    )
    oidc_role_claim: str = _setting("groups", str, "Claim whose values NEWREMORA_OIDC_ROLE_MAP maps to roles.")
    oidc_role_map: tuple[RoleMapEntry, ...] = _setting(
        (),
        parse_role_map,
        "Claim value to role, optionally limited: ops-admins=admin;web-team=operator:groups=web;auditors=viewer "
        "(highest matching role wins; docs/access.md). An identity matching no entry is refused.",
    )

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "newremora.db"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path.absolute()}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting once; an invalid value stops the start with a message naming the variable."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in dataclasses.fields(cls):
            name = PREFIX + setting.name.upper()
            raw = environ.get(name)
            if raw is None or raw == "":
                continue
            try:
                values[setting.name] = setting.metadata["parse"](raw)
            except ValueError as exc:
                raise ConfigurationError(f"{name}: {exc}") from exc
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def documented_settings() -> dict[str, str]:
    """Environment variable name -> description, for the README and its completeness test."""
    return {PREFIX + f.name.upper(): f.metadata["doc"] for f in dataclasses.fields(Settings)}
