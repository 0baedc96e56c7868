"""Extra vars of a playbook job: checked names, and a file in which every string is ``!unsafe``.

Extra vars have the highest precedence in Ansible: a name like ``ansible_connection`` or
``ansible_ssh_common_args`` would decide how (and where) the play runs, so such names are refused. Every string
of the values (and of nested keys) is tagged ``!unsafe``, so Ansible never evaluates a template in user data:
``{{ lookup('pipe', 'id') }}`` stays that text.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

VARIABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
# Ansible's magic variables that are not prefixed with ansible_: overriding them changes what a play targets.
MAGIC_NAMES = frozenset(
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
MAX_EXTRA_VARS_BYTES = 64 * 1024
MAX_DEPTH = 32


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


class _QuotingDumper(yaml.SafeDumper):  # type: ignore[misc]
    """Every string double-quoted, so none is read back as a number or boolean ("yes", "1.10")."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')


_QuotingDumper.add_representer(str, _represent_str)


def render_extra_vars(extra_vars: dict[str, Any]) -> str:
    """YAML for ``ansible-playbook -e @FILE``: the whole document tagged ``!unsafe``.

    The tag goes on the root mapping, not on each string: Ansible marks every string below an unsafe node as
    unsafe, but re-resolves an unsafe scalar as if it were plain (``!unsafe "yes"`` would become true).
    """
    body = yaml.dump(extra_vars, Dumper=_QuotingDumper, allow_unicode=True, sort_keys=False, width=2**16)
    return f"--- !unsafe\n{body}"


def write_extra_vars(directory: Path, extra_vars: dict[str, Any]) -> Path:
    """A 0600 file in the run's private directory (user data never goes on a command line)."""
    path = directory / "extra_vars.yml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(render_extra_vars(extra_vars))
    return path
