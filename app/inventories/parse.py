"""Reading an Ansible inventory (INI or YAML) with Ansible's own parsers, in a child process that cannot act.

The child runs Ansible's InventoryManager with only the ``ini`` and ``yaml`` inventory plugins enabled (no
``script``, no ``auto``/dynamic plugins, no collections, no config file of the machine), reads variables
without ever templating them, reports vault-encrypted values without decrypting them, and is bounded in
memory, CPU time and wall time (a range like ``h[0:99999999]`` is Ansible's own expansion). Its answer is
plain JSON: hosts with their direct groups and effective variables (group variables merged with Ansible's
precedence), and groups with their children.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from app.errors import InvalidInput
from app.inventories.problems import explain

PARSE_TIMEOUT_S: Final = 60
MEMORY_LIMIT_BYTES: Final = 1024**3
CPU_LIMIT_S: Final = 30
PLUGINS: Final = {"ini": "ini", "yaml": "yaml", "auto": "yaml,ini"}
PLACEHOLDER_PATH: Final = "<inventory>"

InventoryFormat = Literal["auto", "ini", "yaml"]


@dataclass(frozen=True)
class VarValue:
    """A variable as read: a plain value, or a mark of what it was instead (never decrypted or evaluated)."""

    value: str | int | float | bool | None = None
    vault: bool = False
    complex_type: str | None = None  # "list" or "dict": data, not a connection setting


@dataclass(frozen=True)
class ParsedHost:
    name: str
    groups: list[str]  # groups the host is directly in ("all" and "ungrouped" left out)
    vars: dict[str, VarValue]


@dataclass(frozen=True)
class ParsedInventory:
    hosts: list[ParsedHost]
    groups: dict[str, list[str]]  # every named group -> its child groups


def _decode_var(raw: dict[str, Any]) -> VarValue:
    return VarValue(value=raw.get("v"), vault=bool(raw.get("vault")), complex_type=raw.get("complex"))


def parse_inventory(text: str, fmt: InventoryFormat = "auto") -> ParsedInventory:
    """Parse in a bounded child process; an unparsable inventory is InvalidInput with Ansible's reason."""
    # The text may hold passwords: it reaches the child through a memory-only file (memfd), never the disk; the
    # temporary directory holds only an empty configuration and Ansible's own scratch space.
    memfd = os.memfd_create("nr-inventory", os.MFD_CLOEXEC)
    with tempfile.TemporaryDirectory(prefix="nr-inventory-") as work, open(memfd, "w", encoding="utf-8") as memory:
        memory.write(text)
        memory.flush()
        workdir = Path(work)
        source = f"/proc/self/fd/{memfd}"
        config = workdir / "ansible.cfg"
        config.write_text("")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir),
            "LANG": "C.UTF-8",
            # Only this empty config: nothing from the machine's or user's Ansible configuration applies.
            "ANSIBLE_CONFIG": str(config),
            "ANSIBLE_HOME": str(workdir),
            "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
            "ANSIBLE_INVENTORY_ENABLED": PLUGINS[fmt],
            "ANSIBLE_INVENTORY_PLUGINS": str(workdir / "no-plugins"),
            "ANSIBLE_COLLECTIONS_PATH": str(workdir / "no-collections"),
            "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
            "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
            "ANSIBLE_NOCOLOR": "True",
            # A parser that ran out of memory inside a plugin is reported as a plain parse failure; its traceback
            # (stderr, never shown) says MemoryError.
            "ANSIBLE_DISPLAY_TRACEBACK": "warning",
        }
        try:
            completed = subprocess.run(
                [sys.executable, "-I", "-m", "app.inventories.parse", source],
                env=env,
                pass_fds=(memfd,),
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=PARSE_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise InvalidInput(f"content: the inventory took longer than {PARSE_TIMEOUT_S} s to parse") from None
        stdout = completed.stdout.replace(source, PLACEHOLDER_PATH)
        reasons = [
            line.split("[WARNING]: ", 1)[1].replace(source, PLACEHOLDER_PATH)
            for line in completed.stderr.splitlines()
            if "[WARNING]: Failed to parse" in line
        ]
        out_of_memory = "MemoryError" in completed.stderr
    try:
        answer = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
    except json.JSONDecodeError:
        answer = {}
    if "hosts" not in answer and ("error" not in answer or out_of_memory):
        raise InvalidInput(
            "content: the inventory could not be read: the parser stopped at its memory or time limit "
            "(a very large host range?)"
        )
    if "error" in answer:
        # Ansible's own messages quote the input (a password, once): they are mapped, never shown.
        raise InvalidInput(explain(fmt, text, reasons))
    return ParsedInventory(
        hosts=[
            ParsedHost(
                name=host["name"],
                groups=host["groups"],
                vars={name: _decode_var(raw) for name, raw in host["vars"].items()},
            )
            for host in answer["hosts"]
        ],
        groups=answer["groups"],
    )


# ----- the child process ---------------------------------------------------------------------------


def _encode_var(value: Any) -> dict[str, Any]:
    from ansible.parsing.vault import EncryptedString

    if isinstance(value, EncryptedString) or type(value).__name__ == "AnsibleVaultEncryptedUnicode":
        return {"vault": True}
    if value is None or isinstance(value, bool | int | float):
        return {"v": value}
    if isinstance(value, str):
        return {"v": str.__str__(value)}  # a plain str, whatever tag Ansible attached
    return {"complex": "dict" if isinstance(value, dict) else "list"}


def _child_main(path: str) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_S, CPU_LIMIT_S))
    from ansible.errors import AnsibleError
    from ansible.inventory.helpers import get_group_vars
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.utils.vars import combine_vars

    try:
        inventory = InventoryManager(loader=DataLoader(), sources=[path], parse=True)
    except AnsibleError as exc:
        print(json.dumps({"error": " ".join(str(exc.message).split())[:2000]}))
        return
    implicit = ("all", "ungrouped")
    magic = ("inventory_file", "inventory_dir")
    direct: dict[str, list[str]] = {}
    for group in inventory.groups.values():
        for host in group.hosts:
            if group.name not in implicit:
                direct.setdefault(host.name, []).append(group.name)
    hosts = []
    for host in inventory.get_hosts():
        # Group variables merged in Ansible's order of precedence, then the host's own (no magic variables).
        effective = combine_vars(get_group_vars(host.get_groups()), host.vars)
        hosts.append(
            {
                "name": str.__str__(host.name),
                "groups": sorted(direct.get(host.name, [])),
                "vars": {
                    str.__str__(name): _encode_var(value) for name, value in effective.items() if name not in magic
                },
            }
        )
    groups = {
        str.__str__(group.name): sorted(str.__str__(child.name) for child in group.child_groups)
        for group in inventory.groups.values()
        if group.name not in implicit
    }
    print(json.dumps({"hosts": hosts, "groups": groups}))


if __name__ == "__main__":
    _child_main(sys.argv[1])
