"""``newremora notifications list | create | deliveries | test | enable | disable | delete``: outgoing webhooks."""

from __future__ import annotations

import argparse
from typing import Any, Final
from urllib.parse import quote

from app.client.api import Api, looks_like_id
from app.client.errors import ApiError
from app.client.secret_files import read_secret
from app.client.tables import local_time, print_json, print_table

TARGETS: Final = "/notification-targets"


def target(api: Api, name_or_id: str) -> dict[str, Any]:
    """A target by id, or else by its (unique) name."""
    if looks_like_id(name_or_id):
        try:
            return dict(api.call("GET", f"{TARGETS}/{name_or_id}"))
        except ApiError as exc:
            if exc.status != 404:
                raise
    for one in api.call("GET", TARGETS)["targets"]:
        if one["name"] == name_or_id:
            return dict(one)
    raise ApiError(404, f"no notification target named or with id {name_or_id!r}")


def list_targets(api: Api, args: argparse.Namespace) -> int:
    found = api.call("GET", TARGETS)["targets"]
    if args.json:
        print_json(found)
        return 0
    rows = [
        [
            one["name"],
            one["id"],
            ", ".join(one["events"]),
            one["template_id"] or "every",
            one["format"],
            "yes" if one["enabled"] else "no",
            one["url"],
        ]
        for one in found
    ]
    print_table(["NAME", "ID", "EVENTS", "TEMPLATE", "FORMAT", "ENABLED", "URL"], rows)
    return 0


def create_target(api: Api, args: argparse.Namespace) -> int:
    request: dict[str, Any] = {
        "name": args.name,
        "url": args.webhook_url,
        "events": args.event,
        "format": args.format,
        "enabled": not args.disabled,
    }
    if args.template is not None:
        # The API takes the template's id; people know its name.
        request["template_id"] = api.call("GET", f"/templates/{quote(args.template, safe='')}")["id"]
    if args.secret_file is not None:
        request["secret"] = read_secret(args.secret_file, "secret")
    made = api.call("POST", TARGETS, json=request)
    if args.json:
        print_json(made)
        return 0
    print(f"notification target {made['name']!r} created: {made['id']}")
    if args.secret_file is None:
        # Shown in this answer only: the receiver needs it to check X-NewRemora-Signature-256.
        print(f"signing secret (shown only now; give it to the receiver): {made['secret']}")
    return 0


def _result(attempt: dict[str, Any]) -> str:
    shown = attempt["error"] or f"HTTP {attempt['status']}"
    return f"{shown} ({attempt['duration_ms']} ms)"


def list_deliveries(api: Api, args: argparse.Namespace) -> int:
    """Each delivery on a line, newest first, and under it each of its attempts: when, and the receiver's status
    or the error."""
    found = target(api, args.target)
    deliveries = api.call("GET", f"{TARGETS}/{found['id']}/deliveries", params={"limit": args.limit})["deliveries"]
    if args.json:
        print_json(deliveries)
        return 0
    rows: list[list[str]] = []
    for one in deliveries:
        when = local_time(one["delivered_at"] if one["state"] == "delivered" else one["next_attempt_at"])
        rows.append([local_time(one["created_at"]), one["event"], one["subject_id"], one["state"], when])
        rows.extend(["", f"  attempt {a['number']}", local_time(a["at"]), _result(a), ""] for a in one["attempt_log"])
    if not deliveries:
        print(f"no deliveries for {found['name']} yet")
        return 0
    print_table(["QUEUED", "EVENT", "JOB OR BATCH", "STATE", "DELIVERED / NEXT TRY"], rows)
    return 0


def test_target(api: Api, args: argparse.Namespace) -> int:
    found = target(api, args.target)
    queued = api.call("POST", f"{TARGETS}/{found['id']}/test")
    print(f"test event queued for {found['name']}: {queued['id']}")
    print(f"follow it with: newremora notifications deliveries {found['name']}")
    return 0


def _set_enabled(api: Api, args: argparse.Namespace, enabled: bool) -> int:
    found = target(api, args.target)
    changed = api.call("PATCH", f"{TARGETS}/{found['id']}", json={"enabled": enabled})
    print(f"{changed['name']} {'enabled' if enabled else 'disabled: no new events for it, pending ones wait'}")
    return 0


def enable_target(api: Api, args: argparse.Namespace) -> int:
    return _set_enabled(api, args, True)


def disable_target(api: Api, args: argparse.Namespace) -> int:
    return _set_enabled(api, args, False)


def delete_target(api: Api, args: argparse.Namespace) -> int:
    found = target(api, args.target)
    api.call("DELETE", f"{TARGETS}/{found['id']}")
    print(f"deleted notification target {found['name']} and its deliveries")
    return 0
