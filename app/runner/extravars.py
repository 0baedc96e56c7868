"""Extra vars of a playbook job as a file in which every string is ``!unsafe``.

Every string of the values (and of nested keys) is tagged ``!unsafe``, so Ansible never evaluates a template in
user data: ``{{ lookup('pipe', 'id') }}`` stays that text. Which names and values are accepted at all is checked
when the job is submitted (``check_extra_vars`` in app/validators.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Final

import yaml

SECRET_VAR: Final = re.compile(r"[a-z][a-z0-9_]{0,62}")
HANDLE_TEXT: Final = re.compile(r"[0-9a-f]{32}")


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


def _write(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def write_extra_vars(directory: Path, extra_vars: dict[str, Any]) -> Path:
    """A 0600 file in the run's private directory (user data never goes on a command line)."""
    return _write(directory / "extra_vars.yml", render_extra_vars(extra_vars))


def render_secret_vars(handles: dict[str, str]) -> str:
    """YAML naming each secret variable's value by its secret-socket handle: the only templates of ours, with
    nothing of the user's in them (a checked name, a hex handle). Ansible marks what a lookup returns as unsafe,
    so a secret value is never templated either, and the value itself exists in no file."""
    for name, handle in handles.items():
        if not SECRET_VAR.fullmatch(name) or not HANDLE_TEXT.fullmatch(handle):
            raise ValueError(f"not a secret variable: {name!r}")
    lines = [f"{name}: \"{{{{ lookup('newremora_secret', '{handle}') }}}}\"" for name, handle in handles.items()]
    return "---\n" + "".join(line + "\n" for line in lines)


def write_secret_vars(directory: Path, handles: dict[str, str]) -> Path:
    return _write(directory / "secret_vars.yml", render_secret_vars(handles))
