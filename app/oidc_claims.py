"""What an OpenID Connect identity may do: the role mapping of ``NEWREMORA_OIDC_ROLE_MAP`` and the claims it reads.

Pure: no HTTP, no database. The grammar (docs/access.md, "OpenID Connect"): entries separated by ``;``, each
``VALUE=ROLE`` optionally followed by limits ``:groups=a,b`` and/or ``:servers=x,y``, e.g.
``ops-admins=admin;web-team=operator:groups=web;auditors=viewer``. ``VALUE`` is matched exactly against the role
claim (a string or a list of strings).

Several matching entries combine so that a second group never widens what the highest role may do beyond what
its own entries say: the highest role among them wins; the entries of that role are merged (one without limits
makes the grant unlimited; otherwise their groups and servers are united); entries of lower roles are ignored
(their limits do not add to the higher role).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from app.principals import Role, as_role
from app.rights import rank

ENTRY_SEPARATOR: Final = ";"
LIMIT_NAMES: Final = ("groups", "servers")
USERNAME_CHARS: Final = re.compile(r"[^a-z0-9._-]+")
MAX_USERNAME: Final = 64


@dataclass(frozen=True)
class ClaimGrant:
    """A role, optionally limited to NewRemora groups and/or servers (empty tuples: no limit of that kind)."""

    role: Role
    groups: tuple[str, ...] = ()
    servers: tuple[str, ...] = ()

    @property
    def unlimited(self) -> bool:
        return not self.groups and not self.servers


@dataclass(frozen=True)
class RoleMapEntry:
    claim_value: str
    grant: ClaimGrant


def _names(entry: str, kind: str, raw: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not names:
        raise ValueError(f"entry {entry!r}: {kind}= names nothing")
    return names


def _entry(text: str) -> RoleMapEntry:
    value, equals, rest = text.partition("=")
    value = value.strip()
    if not equals or not value:
        raise ValueError(f"entry {text!r}: expected CLAIM_VALUE=ROLE[:groups=a,b][:servers=x,y]")
    role_text, *limits = rest.split(":")
    try:
        role = as_role(role_text.strip())
    except ValueError as exc:
        raise ValueError(f"entry {text!r}: {exc}") from None
    found: dict[str, tuple[str, ...]] = {}
    for limit in limits:
        kind, equals, names = limit.partition("=")
        kind = kind.strip()
        if not equals or kind not in LIMIT_NAMES:
            raise ValueError(f"entry {text!r}: expected a limit groups=a,b or servers=x,y, got {limit!r}")
        if kind in found:
            raise ValueError(f"entry {text!r}: {kind}= given twice")
        found[kind] = _names(text, kind, names)
    grant = ClaimGrant(role=role, groups=found.get("groups", ()), servers=found.get("servers", ()))
    return RoleMapEntry(claim_value=value, grant=grant)


def parse_role_map(raw: str) -> tuple[RoleMapEntry, ...]:
    """The mapping as written in the setting; ValueError names the entry at fault."""
    entries = tuple(_entry(part.strip()) for part in raw.split(ENTRY_SEPARATOR) if part.strip())
    if not entries:
        raise ValueError("no entry: expected e.g. ops-admins=admin;web-team=operator:groups=web")
    return entries


def claim_values(claims: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """A claim as a list of strings: a list is taken as it is (non-strings dropped), a string as one value."""
    value = claims.get(name)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(item for item in value if isinstance(item, str))
    return ()


def _merged(role: Role, grants: list[ClaimGrant]) -> ClaimGrant:
    if any(grant.unlimited for grant in grants):
        return ClaimGrant(role=role)
    groups = tuple(dict.fromkeys(name for grant in grants for name in grant.groups))
    servers = tuple(dict.fromkeys(name for grant in grants for name in grant.servers))
    return ClaimGrant(role=role, groups=groups, servers=servers)


def grant_for(claims: Mapping[str, Any], claim_name: str, entries: tuple[RoleMapEntry, ...]) -> ClaimGrant | None:
    """The grant of these claims (the combination rule above), or None: no entry matches, the identity is refused."""
    values = set(claim_values(claims, claim_name))
    matching = [entry.grant for entry in entries if entry.claim_value in values]
    if not matching:
        return None
    top = max((grant.role for grant in matching), key=rank)
    return _merged(top, [grant for grant in matching if grant.role == top])


def username_from(claims: Mapping[str, Any], claim_name: str) -> str:
    """A local username for a first sign-in: the claim (else ``sub``), lowercased, other characters as ``-``."""
    raw = claims.get(claim_name)
    if not isinstance(raw, str) or not raw.strip():
        raw = str(claims.get("sub", ""))
    cleaned = USERNAME_CHARS.sub("-", raw.strip().lower()).strip("-._")[:MAX_USERNAME]
    return cleaned or "oidc-user"
