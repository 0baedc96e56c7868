"""Field checks shared by the request models: every value here may end up in an inventory or on argv."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, Final
from urllib.parse import urlsplit

HOST_LABEL: Final = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
LOGIN_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
SERVER_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_hostname(value: str) -> str:
    """A DNS name (RFC 1123) or an IPv4/IPv6 address; nothing that could carry a second token."""
    candidate = value.strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        pass
    name = candidate.removesuffix(".")
    if not name or len(name) > 253 or not all(HOST_LABEL.fullmatch(label) for label in name.split(".")):
        raise ValueError("must be a DNS host name or an IP address")
    if name.replace(".", "").isdigit():
        raise ValueError("must be a DNS host name or an IP address")
    return name.lower()


def check_login_name(value: str) -> str:
    if not LOGIN_NAME.fullmatch(value):
        raise ValueError("must be a login name: a letter or '_' then letters, digits, '.', '_', '-' (32 at most)")
    return value


def check_server_name(value: str) -> str:
    if not SERVER_NAME.fullmatch(value):
        raise ValueError(
            "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(it is the host name in exported inventories)"
        )
    return value


NUL: Final = "\x00"


def nul_fields(value: Any) -> list[str]:
    """Where a request's raw value holds a NUL, as ``field``, ``field.key`` or ``field.0`` paths (a key with a NUL
    shown as ``\\x00``, never raw). A walk with a stack, not recursion: any depth of JSON is walked safely."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                found.append(path)
            continue
        if isinstance(item, dict):
            children = [(str(key), child) for key, child in item.items()]
        elif isinstance(item, list | tuple):
            children = [(str(index), child) for index, child in enumerate(item)]
        else:
            continue
        for name, child in reversed(children):
            if NUL in name:
                found.append(path or "request body")  # a name cannot be stored with it either
                name = name.replace(NUL, "\\x00")
            stack.append((f"{path}.{name}" if path else name, child))
    return found


def check_secret_text(value: str) -> str:
    # A NUL or line break cannot be typed at an SSH password prompt; refusing them keeps the askpass answer (a line)
    # honest.
    if any(ch in value for ch in "\x00\r\n"):
        raise ValueError("must not contain NUL or line breaks")
    return value


GROUP_NAME: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$")
# Ansible's implicit groups: every host is in "all", and in "ungrouped" when in no other group.
IMPLICIT_GROUPS: Final = ("all", "ungrouped")


def check_group_name(value: str) -> str:
    if not GROUP_NAME.fullmatch(value):
        raise ValueError("must be 1-100 letters, digits, '_' or '-', starting with a letter, digit or '_'")
    if value in IMPLICIT_GROUPS:
        raise ValueError(f"{value!r} is implicit in Ansible inventories: every server is in it")
    return value


INTERPRETER: Final = re.compile(r"^(/[A-Za-z0-9._/+-]{1,254}|auto|auto_silent|auto_legacy|auto_legacy_silent)$")


def check_interpreter(value: str) -> str:
    """ansible_python_interpreter on the target: an absolute path of plain characters, or Ansible's auto modes."""
    if not INTERPRETER.fullmatch(value):
        raise ValueError("must be an absolute path of plain characters, or auto / auto_silent")
    return value


# ----- extra vars of a playbook job ---------------------------------------------------------------------------------
# Extra vars have the highest precedence in Ansible: a name like ``ansible_connection`` or ``ansible_ssh_common_args``
# would decide how (and where) the play runs, so such names are refused (their file: app/runner/extravars.py).

VARIABLE_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
# Ansible's magic variables that are not prefixed with ansible_: overriding them changes what a play targets.
MAGIC_NAMES: Final = frozenset(
    {
        "environment",
        "group_names",
        "groups",
        "hostvars",
        "inventory_dir",
        "inventory_file",
        "inventory_hostname",
        "inventory_hostname_short",
        "item",
        "omit",
        "play_hosts",
        "playbook_dir",
        "role_name",
        "role_names",
        "role_path",
        "vars",
    }
)
MAX_EXTRA_VARS_BYTES: Final = 64 * 1024
MAX_DEPTH: Final = 32


def check_extra_vars(extra_vars: dict[str, Any]) -> dict[str, Any]:
    """The extra vars, unchanged, or ValueError naming the first problem (never echoing a value)."""
    for name in extra_vars:
        if not VARIABLE_NAME.fullmatch(name):
            raise ValueError(f"{name[:100]!r} is not a variable name (a letter, then letters, digits or '_')")
        if name.lower().startswith("ansible_") or name in MAGIC_NAMES:
            raise ValueError(f"{name!r} is reserved by Ansible and cannot be set here")
    if _depth(extra_vars) > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    try:
        as_json = json.dumps(extra_vars, allow_nan=False)
    except ValueError:
        raise ValueError("NaN and Infinity are not JSON numbers") from None
    if len(as_json.encode()) > MAX_EXTRA_VARS_BYTES:
        raise ValueError(f"{MAX_EXTRA_VARS_BYTES} bytes at most (as JSON)")
    return extra_vars


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def check_webhook_url(value: str) -> str:
    """An http(s) URL with a host, and without user:password (the body's signature authenticates; a password in
    the URL would show wherever the URL does)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError:
        raise ValueError("must be an http:// or https:// URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user or password (the signature authenticates the body)")
    if any(ch.isspace() for ch in value):
        raise ValueError("must not contain spaces")
    return value


MAX_BODY_PATH: Final = 200
_BODY_PATH_SEGMENT: Final = re.compile(r"^[^.\s]{1,100}$")


def check_body_path(path: str) -> str:
    """A path into a trigger's JSON body (app/trigger_mapping.py): dot-separated keys, a number for a list's item."""
    if not path or len(path) > MAX_BODY_PATH:
        raise ValueError(f"a body path is 1-{MAX_BODY_PATH} characters")
    if not all(_BODY_PATH_SEGMENT.fullmatch(segment) for segment in path.split(".")):
        raise ValueError(f"{path!r}: dot-separated keys, none empty, no spaces (e.g. repository.name)")
    return path
