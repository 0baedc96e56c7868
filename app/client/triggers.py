"""``newremora triggers list | create | rotate | delete``: a template's signed webhook triggers."""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from app.client.api import Api
from app.client.errors import ClientError
from app.client.tables import local_time, print_json, print_table


def _template_path(template: str) -> str:
    return f"/templates/{quote(template, safe='')}"


def list_triggers(api: Api, args: argparse.Namespace) -> int:
    found = api.call("GET", f"{_template_path(args.template)}/triggers")["triggers"]
    if args.json:
        print_json(found)
        return 0
    rows = [
        [
            one["name"],
            one["id"],
            "yes" if one["enabled"] else "no",
            f"{one['rate_limit']}/min",
            ", ".join(f"{name}={path}" for name, path in one["mapping"].items()) or "-",
            local_time(one["last_used_at"]),
            one["url"],
        ]
        for one in found
    ]
    print_table(["NAME", "ID", "ENABLED", "RATE", "MAPPING", "LAST USED", "URL"], rows)
    return 0


def mapping_of(pairs: list[str]) -> dict[str, str]:
    """``--map param=body.path`` as given; the service checks the names and paths."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        name, equals, path = pair.partition("=")
        if not equals or not name or not path:
            raise ClientError(f"--map {pair}: give parameter=body.path (e.g. version=release.tag_name)")
        if name in mapping:
            raise ClientError(f"--map {name}: given twice")
        mapping[name] = path
    return mapping


def _example_value(parameter: Mapping[str, Any]) -> object:
    """A value the parameter accepts, for the example body: its default, else one of its type."""
    if parameter.get("default") is not None:
        return parameter["default"]
    kind = parameter.get("type")
    if kind == "integer":
        return parameter["min"] if parameter.get("min") is not None else parameter.get("max") or 1
    if kind == "boolean":
        return True
    if kind == "choice" and parameter.get("choices"):
        return parameter["choices"][0]
    return "value"


def _put(node: dict[str, Any] | list[Any], segments: list[str], value: object) -> None:
    """Place ``value`` at ``segments`` (a number steps into a list), as the service reads a body path; a path
    that clashes with one placed before is left out of the example."""
    head, rest = segments[0], segments[1:]
    if isinstance(node, list):
        if not head.isdigit():
            return
        index = int(head)
        node.extend([None] * (index + 1 - len(node)))
        child = node[index]
    else:
        child = node.get(head)
    if not rest:
        if child is None:
            node[int(head) if isinstance(node, list) else head] = value  # type: ignore[index]
        return
    if child is None:
        child = [] if rest[0].isdigit() else {}
        node[int(head) if isinstance(node, list) else head] = child  # type: ignore[index]
    if isinstance(child, dict | list):
        _put(child, rest, value)


def example_body(parameters: Sequence[Mapping[str, Any]], mapping: Mapping[str, str]) -> dict[str, Any]:
    """A body that launches the template through this mapping: each mapped parameter at its path, each
    required one without a mapping at the top level under its own name."""
    body: dict[str, Any] = {}
    for parameter in parameters:
        name = parameter["name"]
        if name in mapping:
            _put(body, mapping[name].split("."), _example_value(parameter))
        elif parameter.get("required"):
            _put(body, [name], _example_value(parameter))
    return body


def signing_example(url: str, secret: str, body: Mapping[str, Any]) -> str:
    """A shell snippet (bash, openssl, curl) that signs ``body`` as the service checks it (docs/orchestration.md,
    "The signature") and sends it."""
    return "\n".join(
        [
            f"URL={shlex.quote(url)}",
            f"SECRET={shlex.quote(secret)}",
            f"BODY={shlex.quote(json.dumps(body))}",
            "TS=$(date +%s)",
            'SIG=$(printf \'%s.%s\' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | awk \'{print $NF}\')',
            "curl -s -X POST \"$URL\" -H 'Content-Type: application/json' \\",
            '  -H "X-NewRemora-Timestamp: $TS" -H "X-Hub-Signature-256: sha256=$SIG" --data-binary "$BODY"',
        ]
    )


def _show_secret(api: Api, made: Mapping[str, Any], done: str, as_json: bool) -> None:
    if as_json:
        print_json(made)
        return
    template = api.call("GET", _template_path(made["template_id"]))
    body = example_body(template["parameters"], made["mapping"])
    print(f"trigger {made['name']!r} of template {template['name']} {done}: {made['id']}")
    print(f"The secret is shown only now: keep it (`newremora triggers rotate {made['id']}` makes a new one).")
    print("Sign and send a request (bash, openssl, curl):")
    print()
    print(signing_example(made["url"], made["secret"], body))


def create_trigger(api: Api, args: argparse.Namespace) -> int:
    request: dict[str, Any] = {"name": args.name, "mapping": mapping_of(args.map), "enabled": not args.disabled}
    if args.rate_limit is not None:
        request["rate_limit"] = args.rate_limit
    made = api.call("POST", f"{_template_path(args.template)}/triggers", json=request)
    _show_secret(api, made, "created", args.json)
    return 0


def rotate_trigger(api: Api, args: argparse.Namespace) -> int:
    made = api.call("POST", f"/triggers/{quote(args.trigger, safe='')}/rotate")
    _show_secret(api, made, "has a new secret (the old one is refused from now on)", args.json)
    return 0


def delete_trigger(api: Api, args: argparse.Namespace) -> int:
    api.call("DELETE", f"/triggers/{quote(args.trigger, safe='')}")
    print(f"deleted trigger {args.trigger}: its URL refuses every request from now on")
    return 0
