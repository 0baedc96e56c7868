"""``newremora servers list | add | test``."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from app.client.api import Api
from app.client.errors import ClientError
from app.client.progress import spinning
from app.client.secret_files import read_secret
from app.client.tables import print_json, print_table
from app.errors import InvalidInput


def list_servers(api: Api, args: argparse.Namespace) -> int:
    servers = api.call("GET", "/servers", params={"active_only": "true"} if args.active_only else None)["servers"]
    if args.json:
        print_json(servers)
        return 0
    rows = [
        [
            s["name"],
            s["id"],
            f"{s['user']}@{s['hostname']}:{s['port']}",
            s["auth_type"],
            "yes" if s["is_active"] else "no",
        ]
        for s in servers
    ]
    print_table(["NAME", "ID", "ADDRESS", "AUTH", "ACTIVE"], rows)
    return 0


def _ask(prompt: str) -> str | None:
    """A secret typed at the terminal (not echoed); None when there is no terminal to ask on."""
    if not sys.stdin.isatty():
        return None
    return getpass.getpass(prompt)


def _key_is_encrypted(key: str) -> bool:
    from app.keys import parse_private_key  # cryptography: only `servers add` with a key pays for loading it

    try:
        return parse_private_key(key, allow_locked=True).encrypted
    except InvalidInput:
        return False  # the service says what is wrong with it


def server_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": args.name,
        "hostname": args.host,
        "port": args.port,
        "user": args.user,
        "is_active": not args.inactive,
    }
    if args.key_file:
        body["auth_type"] = "key"
        body["private_key"] = read_secret(args.key_file, "key", whole=True) + "\n"
        passphrase = read_secret(args.passphrase_file, "passphrase") if args.passphrase_file else None
        if passphrase is None and _key_is_encrypted(body["private_key"]):
            passphrase = _ask(f"Passphrase for {args.key_file}: ")
        if passphrase is not None:
            body["passphrase"] = passphrase
        return body
    if args.passphrase_file:
        raise ClientError("--passphrase-file goes with --key-file")
    password = read_secret(args.password_file, "password") if args.password_file else None
    if password is None:
        password = _ask(f"Password for {args.user}@{args.host}: ")
    if password is None:
        raise ClientError("give --key-file, or --password-file (- for stdin); there is no terminal to ask on")
    body["auth_type"] = "password"
    body["password"] = password
    return body


def add_server(api: Api, args: argparse.Namespace) -> int:
    server = api.call("POST", "/servers", json=server_body(args))
    if args.json:
        print_json(server)
    else:
        print(f"server {server['name']} added: {server['id']}")
    return 0


def test_server(api: Api, args: argparse.Namespace) -> int:
    server = api.server(args.server)
    with spinning(f"testing {server['name']} ({server['user']}@{server['hostname']}:{server['port']})"):
        result = api.call("POST", f"/servers/{server['id']}/test")
    if args.json:
        print_json(result)
    elif result["status"] == "connected":
        print(f"{server['name']}: connected in {result['response_time_ms']} ms")
    else:
        print(f"{server['name']}: disconnected: {result['message']}")
    return 0 if result["status"] == "connected" else 1
