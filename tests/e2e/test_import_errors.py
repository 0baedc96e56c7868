"""Inventory import errors never quote a value from the input: a password put in every position where Ansible's
parsers or the import's checks could echo it, through the API and the command line, INI and YAML.

The messages still say where and what: the line, the host or group (names are names), the variable's name.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import httpx
import pytest

from tests.harness.service import NEWREMORA, Service

pytestmark = pytest.mark.slow

MARK: Final = f"Pw{secrets.token_hex(6)}"
VAULT: Final = f"$ANSIBLE_VAULT;1.1;AES256\n        3836{MARK}\n"

# (format, inventory, what the message must say): each puts MARK where a message could quote it.
CASES: Final = [
    ("ini", f'h1 ansible_password="{MARK}\n', "a quote is not closed in the value of ansible_password"),
    ("ini", f"[web]\nh1 ansible_user=u ansible_password='{MARK} x\n", "line 2 (host h1)"),
    ("ini", f"h1 ansible_password={MARK} {MARK}tail\n", "line 1 (host h1): a word that is not name=value"),
    ("ini", f"[g]\nh1\n[g:vars]\nansible_password {MARK}\n", "line 4 (group g): a line of a [group:vars] section"),
    ("ini", f'[g]\nh1\n[g:vars]\nansible_user=u\nansible_become_password="{MARK}\\\n', "h1"),
    ("ini", f"[g:{MARK}]\nh1\n", "line 1 (group g): a section header of group g with an unknown type"),
    ("ini", f"[g:children]\n{MARK} ansible_password={MARK}\n", "line 2 (group g)"),
    ("ini", f"[g {MARK}]\nh1\n", "line 1"),
    ("ini", f'h1 ansible_password="{MARK}{"x" * 60_000}\n', "line 1 (host h1)"),
    ("ini", f"h1 ansible_user=u ansible_password=p ansible_connection={MARK}\n", "ansible_connection: not allowed"),
    ("ini", f"h1 ansible_user=u ansible_password=p ansible_become_method={MARK}\n", "ansible_become_method"),
    ("ini", f"h1 ansible_user=u newremora_credential={MARK}\n", "newremora_credential: no credential"),
    ("ini", f"h1 ansible_user=u ansible_ssh_common_args={MARK}\n", "ansible_ssh_common_args"),
    ("ini", f"h1 ansible_user=u ansible_shell_executable={MARK}\n", "ansible_shell_executable"),
    ("ini", f"h1 ansible_host={MARK}! ansible_user=u ansible_password=p\n", "ansible_host"),
    ("ini", f"h1 ansible_port={MARK} ansible_user=u ansible_password=p\n", "ansible_port"),
    ("ini", f"h1 ansible_become={MARK} ansible_user=u ansible_password=p\n", "ansible_become"),
    ("ini", f"h1 ansible_user={MARK}! ansible_password=p\n", "ansible_user"),
    ("ini", f"h1 ansible_user=u ansible_python_interpreter={MARK}\n", "ansible_python_interpreter"),
    ("ini", f'h1 ansible_user=u ansible_password="{{{{ {MARK} }}}}"\n', "ansible_password: is a template"),
    ("ini", f"h1 ansible_user=u ansible_become_password={MARK}\\\n", "line 1 (host h1)"),
    ("auto", f'h1 ansible_password="{MARK}\n', "as INI: line 1 (host h1)"),
    ("yaml", f'all:\n  hosts:\n    h1:\n      ansible_password: "{MARK}\n', "YAML syntax"),
    ("yaml", f"all:\n  hosts:\n    h1:\n      ansible_user: u\n     ansible_password: {MARK}\n", "line 5"),
    ("yaml", f"all:\n  vars:\n    ansible_password: '{MARK}\n  hosts:\n    h1:\n", "YAML syntax"),
    ("yaml", f"all:\n  vars: [{MARK}]\n", "the vars of group all are not a mapping"),
    ("yaml", f"all:\n  hosts:\n    h1: {MARK}\n", "the variables of a host or group are not a mapping"),
    ("yaml", f"all:\n  hosts:\n    h1:\n\tansible_password: {MARK}\n", "line 4, column 1: YAML syntax"),
    ("yaml", f"all:\n  hosts:\n    h1:\n      ansible_password: !{MARK} x\n", "line 4: a YAML tag"),
    ("yaml", f"all:\n  hosts:\n    h1:\n      ansible_password: *{MARK}\n", "YAML syntax"),
    ("yaml", f"all:\n  hosts:\n    h1:\n      ansible_password: !vault |\n        {VAULT}", "ansible_password"),
    ("yaml", f"all:\n  hosts:\n    h1:\n      ansible_connection: {MARK}\n", "ansible_connection"),
    (
        "yaml",
        f"g:\n  vars:\n    ansible_user: u\n    newremora_credential: {MARK}\n  hosts:\n    h1:\n",
        "newremora_credential",
    ),
    ("yaml", f"{MARK}: [\n", "YAML syntax"),
    ("yaml", f'all:\n  hosts:\n    h1:\n      ansible_password: "{MARK}\\q"\n', "YAML syntax"),
    (
        "yaml",
        f"all:\n  vars:\n    x: {'[' * 50_000}{MARK}{']' * 50_000}\n",
        "line 3, column 1005: YAML syntax: exceeded maximum nesting depth",
    ),
    ("yaml", f'all:\n  hosts:\n    "h1 ansible_password={MARK}":\n', "(a host with an invalid name)"),
    ("yaml", f'"g {MARK}":\n  hosts:\n    h1:\n      ansible_user: u\n', "a group with an invalid name"),
]


@pytest.fixture
def service(tmp_path: Path, control_root: Path) -> Iterator[Service]:
    env = {
        "NEWREMORA_WORKERS": "0",
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_LOG_LEVEL": "debug",
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
    }
    started = Service.start(tmp_path, env)
    yield started
    started.stop()


def test_no_import_error_quotes_a_value_of_the_inventory(service: Service, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWREMORA_")}
    env["NEWREMORA_DATA_DIR"] = str(tmp_path / "var")
    with httpx.Client(base_url=service.base_url, timeout=120) as http:
        for number, (fmt, content, expected) in enumerate(CASES):
            answer = http.post("/api/v1/inventories/import", json={"content": content, "format": fmt})
            assert answer.status_code in (200, 400), answer.text
            assert MARK not in answer.text, (number, answer.text)
            assert MARK[2:] not in answer.text.replace("\\", ""), (number, answer.text)
            assert expected in answer.text, (number, answer.text)

            inventory = tmp_path / f"case-{number}.inv"
            inventory.write_text(content)
            done = subprocess.run(
                [NEWREMORA, "import-inventory", str(inventory), "--format", fmt],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode in (1, 2), (number, done.stdout, done.stderr)
            assert MARK[2:] not in done.stdout + done.stderr, (number, done.stdout, done.stderr)
            assert expected in done.stdout + done.stderr, (number, done.stdout, done.stderr)
    assert MARK[2:] not in service.log()
