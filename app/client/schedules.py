"""``newremora schedules list | create | enable | disable | delete``."""

from __future__ import annotations

import argparse
from typing import Any

from app.client.api import Api
from app.client.errors import ClientError
from app.client.tables import print_json, print_table


def list_schedules(api: Api, args: argparse.Namespace) -> int:
    schedules = api.call("GET", "/schedules")["schedules"]
    if args.json:
        print_json(schedules)
        return 0
    rows = [
        [
            s["name"],
            s["id"],
            f"{s['cron']} ({s['timezone']})",
            "yes" if s["enabled"] else "no",
            s["next_run_at"] or "-",
            s["last_run"]["outcome"] if s["last_run"] else "-",
        ]
        for s in schedules
    ]
    print_table(["NAME", "ID", "CRON", "ENABLED", "NEXT RUN", "LAST"], rows)
    return 0


def _values(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ClientError(f"-p {pair!r}: write name=value")
        values[name] = value
    return values


def create_schedule(api: Api, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "name": args.name,
        "template": args.template,
        "cron": args.cron,
        "timezone": args.timezone,
        "overlap": args.overlap,
        "missed": args.missed,
        "enabled": not args.disabled,
        "parameters": _values(args.param or []),
    }
    made = api.call("POST", "/schedules", json=body)
    print(f"{made['name']} {made['id']} next run {made['next_run_at'] or '-'}")
    return 0


def _set_enabled(api: Api, args: argparse.Namespace, enabled: bool) -> int:
    changed = api.call("PATCH", f"/schedules/{args.schedule}", json={"enabled": enabled})
    print(f"{changed['name']} {'enabled, next run ' + str(changed['next_run_at']) if enabled else 'disabled'}")
    return 0


def enable_schedule(api: Api, args: argparse.Namespace) -> int:
    return _set_enabled(api, args, True)


def disable_schedule(api: Api, args: argparse.Namespace) -> int:
    return _set_enabled(api, args, False)


def delete_schedule(api: Api, args: argparse.Namespace) -> int:
    api.call("DELETE", f"/schedules/{args.schedule}")
    print(f"deleted {args.schedule}")
    return 0
