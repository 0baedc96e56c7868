"""``newremora launch | templates list``."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from app.client.api import Api
from app.client.config import ClientConfig
from app.client.errors import ClientError
from app.client.follow import follow_job
from app.client.outcome import Outcome
from app.client.tables import local_time, print_json, print_table, shorten


def parameter_values(pairs: list[str]) -> dict[str, str]:
    """``-p name=value`` as given: strings, which the service converts by each parameter's type."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise ClientError(f"-p {pair}: give name=value")
        if name in values:
            raise ClientError(f"-p {name}: given twice")
        values[name] = value
    return values


def launch(api: Api, config: ClientConfig, args: argparse.Namespace) -> Outcome:
    """Launch the template, then follow its job (or each job of its batch, in turn) as ``run`` does: the exit
    code is the job's, or the first failing job's of a batch."""
    values = parameter_values(args.parameters)
    answer = api.call("POST", f"/templates/{quote(args.template, safe='')}/launch", json={"parameters": values})
    jobs: list[dict[str, Any]] = answer.get("jobs", [answer])
    if args.no_follow:
        for job in jobs:
            print(job["id"])
        return Outcome(0)
    outcome = Outcome(0)
    for job in jobs:
        followed = follow_job(config, job["id"], f" on {job['server']['name']}", cancel_on_interrupt=True)
        if outcome.code == 0 and followed.code != 0:
            outcome = followed
    return outcome


def list_templates(api: Api, args: argparse.Namespace) -> int:
    listing = api.call("GET", "/templates")
    if args.json:
        print_json(listing)
        return 0
    rows = [
        [
            one["name"],
            str(one["version"]),
            one["kind"],
            one["group"] or (one["server_id"] if one["server_id"] else f"{len(one['server_ids'] or [])} servers"),
            ", ".join(p["name"] + ("*" if p["required"] else "") for p in one["parameters"]) or "-",
            local_time(one["updated_at"]),
            shorten(one["description"] or "", 40),
        ]
        for one in listing["templates"]
    ]
    print_table(["NAME", "VERSION", "KIND", "TARGETS", "PARAMETERS", "UPDATED", "DESCRIPTION"], rows)
    return 0
