"""A realistic job history written straight into the database through the app's models (no API, no Ansible).

Statuses, servers, commands and scripts are drawn from fixed weighted lists with a seeded generator, so two
runs store the same history; creation times are spread evenly over the past days, newest last.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg2.extras import execute_values

from app.db import Database
from app.models import Job

COMMANDS: list[tuple[str, str | None, int]] = [
    # (command, args, weight)
    ("uptime", None, 10),
    ("df", "-h", 8),
    ("free", "-m", 6),
    ("systemctl", "restart nginx", 5),
    ("systemctl", "status nginx --no-pager", 4),
    ("journalctl", "-u app --since today --no-pager", 6),
    ("apt-get", "update -q", 5),
    ("apt-get", "install -y --only-upgrade openssl", 2),
    ("tar", "-czf /tmp/backup.tar.gz /srv/data", 4),
    ("rsync", "-a /srv/data/ backup01:/backups/data/", 3),
    ("pg_dump", "-Fc app -f /var/backups/app.dump", 3),
    ("docker", "ps -a", 5),
    ("du", "-sh /var/log", 4),
    ("ls", "-la /var/log", 6),
    ("cat", "/etc/os-release", 3),
    ("certbot", "renew --quiet", 2),
    ("find", "/var/tmp -mtime +7 -delete", 3),  # noqa: S108 (text of a job, not a file used here)
    ("git", "-C /srv/app pull --ff-only", 4),
    ("echo", "'test'", 5),
    ("nginx", "-t", 2),
]
SCRIPTS: list[tuple[str, int]] = [
    ("#!/bin/bash\nset -e\ncd /srv/app\ngit pull --ff-only\nsystemctl restart app\n", 4),
    ('#!/bin/bash\nfor f in /var/log/*.log; do gzip -k "$f"; done\n', 2),
    ("#!/bin/bash\nset -euo pipefail\nnginx -t && systemctl reload nginx\n", 2),
    ("#!/bin/bash\ntar -czf /tmp/etc-backup.tar.gz /etc\nls -la /tmp/etc-backup.tar.gz\n", 2),
]
SCRIPT_SHARE = 0.12
# Finished jobs; the newest few are still queued or running.
FINISHED: list[tuple[str, int]] = [("completed", 86), ("failed", 10), ("canceled", 4)]
FAILURE_REASONS = ["nonzero_exit"] * 8 + ["timeout", "unreachable"]
LIVE_JOBS = 40
INSERT_BATCH = 500
SPREAD = timedelta(days=90)

FIELDS = [
    Job.id,
    Job.server,
    Job.kind,
    Job.command,
    Job.args,
    Job.script,
    Job.shell,
    Job.timeout,
    Job.priority,
    Job.status,
    Job.exit_code,
    Job.error,
    Job.failure_reason,
    Job.created_at,
    Job.started_at,
    Job.finished_at,
    Job.canceled_at,
    Job.stored_bytes,
    Job.last_seq,
    Job.attempt,
    Job.stdout_offset,
    Job.stderr_offset,
    Job.stdout_omitted,
    Job.stderr_omitted,
]


@dataclass(frozen=True)
class History:
    # (id, status, lower-case text of command, args and script), oldest first: what a listing is checked against
    searchable: list[tuple[str, str, str]]

    def newest_matching(self, status: str, search: str) -> list[str]:
        """Ids of the jobs with this status whose text contains ``search``, newest first."""
        needle = search.lower()
        return [job_id for job_id, s, text in reversed(self.searchable) if s == status and needle in text]


def _weighted(rng: random.Random, items: list[tuple[Any, int]]) -> Any:
    return rng.choices([item for item, _ in items], weights=[weight for _, weight in items])[0]


def _rows(count: int, server_ids: list[str], rng: random.Random) -> Iterator[tuple[Any, ...]]:
    # Times in their stored form (naive UTC, as UtcDateTimeField keeps them): no per-value conversion needed.
    now = datetime.now(UTC).replace(tzinfo=None)
    step = SPREAD / count
    # A few busy servers and a long tail, as in real fleets.
    server_weights = [max(1, len(server_ids) - i) ** 2 for i in range(len(server_ids))]
    for i in range(count):
        created = now - SPREAD + step * i + timedelta(seconds=rng.uniform(0, step.total_seconds()))
        server = rng.choices(server_ids, weights=server_weights)[0]
        if rng.random() < SCRIPT_SHARE:
            kind, command, args, script, shell = "script", None, None, _weighted(rng, SCRIPTS), "/bin/bash"
        else:
            command, args, _ = rng.choices(COMMANDS, weights=[w for *_, w in COMMANDS])[0]
            kind, script, shell = "command", None, None
        status = rng.choice(["queued", "running"]) if i >= count - LIVE_JOBS else _weighted(rng, FINISHED)
        started = finished = canceled = exit_code = error = reason = None
        stored, last_seq, attempt = 0, 0, 0
        if status != "queued":
            started = created + timedelta(seconds=rng.uniform(0.2, 3))
            attempt = 1
            last_seq = rng.randint(1, 40)
            stored = last_seq * rng.randint(20, 400)
        if status in ("completed", "failed", "canceled"):
            finished = started + timedelta(seconds=rng.expovariate(1 / 20)) if started else None
        if status == "completed":
            exit_code = 0
        elif status == "failed":
            reason = rng.choice(FAILURE_REASONS)
            exit_code = rng.choice([1, 2, 127]) if reason == "nonzero_exit" else (124 if reason == "timeout" else None)
            error = {"nonzero_exit": f"exit code {exit_code}", "timeout": "timed out after 300 s"}.get(
                reason, "server unreachable: connection refused"
            )
        elif status == "canceled":
            canceled = finished
        yield (
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            server,
            kind,
            command,
            args,
            script,
            shell,
            300,
            5,
            status,
            exit_code,
            error,
            reason,
            created,
            started,
            finished,
            canceled,
            stored,
            last_seq,
            attempt,
            stored,
            0,
            0,
            0,
        )


def _insert(database: Database, rows: list[tuple[Any, ...]]) -> None:
    """Rows already in stored form, in one transaction (Peewee's query builder costs ~0.2 ms a row, which would
    make seeding the slowest part of the benchmark)."""
    columns = ", ".join(field.column_name for field in FIELDS)
    table = Job._meta.table_name
    with database.peewee.atomic():
        cursor = database.peewee.cursor()
        if database.is_postgresql:
            execute_values(cursor, f"INSERT INTO {table} ({columns}) VALUES %s", rows, page_size=INSERT_BATCH)
        else:
            placeholders = ", ".join("?" * len(FIELDS))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)


def store_history(database_url: str, server_ids: list[str], count: int, seed: int = 8) -> History:
    """Insert ``count`` jobs in one transaction; returns what a listing must find."""
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not security)
    rows = list(_rows(count, server_ids, rng))
    database = Database(database_url, threads=1)
    try:
        database.call(_insert, database, rows)
    finally:
        database.close()
    return History([(row[0], row[9], " ".join(part for part in row[3:6] if part).lower()) for row in rows])
