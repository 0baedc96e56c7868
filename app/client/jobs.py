"""``newremora run | jobs list | logs | cancel``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.client.api import Api
from app.client.config import ClientConfig
from app.client.errors import ClientError
from app.client.follow import follow_job
from app.client.outcome import EXIT_CANCELED, EXIT_CLIENT, EXIT_LEFT, Outcome
from app.client.tables import local_time, print_json, print_table, shorten


def _job_body(args: argparse.Namespace, server_id: str) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"server_id": server_id, "timeout": args.timeout, "priority": args.priority}
    if args.script is not None:
        if args.words:
            raise ClientError("give either --script FILE or a command after --, not both")
        try:
            script = sys.stdin.read() if args.script == "-" else Path(args.script).read_text()
        except OSError as exc:
            raise ClientError(f"script {args.script}: {exc.strerror or exc}") from exc
        body.update(script=script, shell=args.shell)
        return "/jobs/script", body
    if not args.words:
        raise ClientError("give the command to run after --, e.g. newremora run web-01 -- uptime")
    if args.shell is not None:
        raise ClientError("--shell goes with --script")
    # As ssh does: the words are joined with spaces into one line for the remote shell (/bin/sh -c).
    body["command"] = args.words[0]
    if len(args.words) > 1:
        body["args"] = " ".join(args.words[1:])
    return "/jobs", body


def run(api: Api, config: ClientConfig, args: argparse.Namespace) -> Outcome:
    server = api.server(args.server)
    path, body = _job_body(args, server["id"])
    job = api.call("POST", path, json={k: v for k, v in body.items() if v is not None})
    if args.detach:
        print(job["id"])
        return Outcome(0)
    return follow_job(config, job["id"], f" on {server['name']}", cancel_on_interrupt=True)


def _what(job: dict[str, Any]) -> str:
    if job["kind"] == "script":
        lines = [line for line in (job.get("script") or "").splitlines() if line.strip() and not line.startswith("#!")]
        return f"[script] {lines[0] if lines else ''}"
    return " ".join(part for part in (job.get("command"), job.get("args")) if part)


def _by(job: dict[str, Any]) -> str:
    """Who submitted the job, and who canceled it if someone did (the audit actors)."""
    submitted = job.get("submitted_by") or "-"
    canceled = job.get("canceled_by")
    return f"{submitted} (canceled by {canceled})" if canceled else submitted


def list_jobs(api: Api, args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"page": args.page, "limit": args.limit, "sort_order": "desc"}
    if args.status:
        params["status"] = args.status
    if args.server:
        params["server_id"] = api.server(args.server)["id"]
    if args.search:
        params["search"] = args.search
    listing = api.call("GET", "/jobs", params=params)
    if args.json:
        print_json(listing)
        return 0
    rows = [
        [
            job["id"],
            job["status"],
            "-" if job["exit_code"] is None else str(job["exit_code"]),
            job["server"]["name"],
            local_time(job["created_at"]),
            _by(job),
            shorten(_what(job), 60),
        ]
        for job in listing["jobs"]
    ]
    print_table(["ID", "STATUS", "EXIT", "SERVER", "CREATED", "BY", "COMMAND"], rows)
    pages = listing["pagination"]
    if pages["has_next"]:
        print(f"(page {pages['page']} of {pages['total_pages']}, {pages['total']} jobs: --page {pages['page'] + 1})")
    return 0


def logs(api: Api, config: ClientConfig, args: argparse.Namespace) -> Outcome:
    if args.follow:
        return follow_job(config, args.job, "", cancel_on_interrupt=False)
    job = api.job(args.job)
    for stream, text in ((sys.stdout, job["stdout"]), (sys.stderr, job["stderr"])):
        stream.buffer.write(text.encode("utf-8", "replace"))
        stream.flush()
    return Outcome(0)


def cancel(api: Api, config: ClientConfig, args: argparse.Namespace) -> Outcome:
    answer = api.call("POST", f"/jobs/{args.job}/cancel")
    if answer["status"] == "canceled":
        print(f"job {args.job} canceled")
        return Outcome(0)
    if not args.wait:
        print(f"job {args.job} is being stopped")
        return Outcome(0)
    ended = follow_job(config, args.job, "", cancel_on_interrupt=False, show_output=False)
    if ended.code == EXIT_CANCELED:
        print(f"job {args.job} canceled")
        return Outcome(0)
    if ended.code in (EXIT_CLIENT, EXIT_LEFT):
        return ended
    return Outcome(1, f"job {args.job} ended before the cancel took effect")
