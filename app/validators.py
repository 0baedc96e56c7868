"""Field checks shared by the request models: every value here may end up in an inventory or on argv."""

from __future__ import annotations

import ipaddress
import re

HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
LOGIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


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


def check_secret_text(value: str) -> str:
    # A NUL or line break cannot be typed at an SSH password prompt; refusing them keeps sshpass honest.
    if any(ch in value for ch in "\x00\r\n"):
        raise ValueError("must not contain NUL or line breaks")
    return value


GROUP_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}$")
# Ansible's implicit groups: every host is in "all", and in "ungrouped" when in no other group.
IMPLICIT_GROUPS = ("all", "ungrouped")


def check_group_name(value: str) -> str:
    if not GROUP_NAME.fullmatch(value):
        raise ValueError("must be 1-100 letters, digits, '_' or '-', starting with a letter, digit or '_'")
    if value in IMPLICIT_GROUPS:
        raise ValueError(f"{value!r} is implicit in Ansible inventories: every server is in it")
    return value


INTERPRETER = re.compile(r"^(/[A-Za-z0-9._/+-]{1,254}|auto|auto_silent|auto_legacy|auto_legacy_silent)$")


def check_interpreter(value: str) -> str:
    """ansible_python_interpreter on the target: an absolute path of plain characters, or Ansible's auto modes."""
    if not INTERPRETER.fullmatch(value):
        raise ValueError("must be an absolute path of plain characters, or auto / auto_silent")
    return value
