"""Pruning 100,000 old jobs with their output on PostgreSQL while jobs keep being submitted and claimed.

usage: python -m bench.prune [--jobs 100000] [--chunks 3] [--rate 20] [--baseline 15]

JOBS ended jobs, finished more than 200 days ago with CHUNKS output chunks each, are written straight into the
database. Then a submitter thread submits one job every 1/RATE s through ``create_jobs`` (the API's path), and a
claimer thread claims them through ``claim_jobs`` (the worker's path: its transaction behind the claim lock) in a
loop, finishing each at once. First BASELINE seconds without pruning; then ``newremora prune`` runs as a process of
its own (NEWREMORA_JOB_RETENTION_DAYS=30, the built-in batches and pause) and the load goes on until it exits.

Printed for both phases of the same run: the claim delay (from the submission's commit to the claim that took the
job) and the claim transaction's duration, p50 / p95 / max; the prune's duration and what it deleted; and the
machine's load. The target: no claim delayed by more than a second while pruning.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from cryptography.fernet import Fernet
from psycopg2.extras import execute_values

from app.db import Database
from app.jobqueue.announce import NO_EVENTS
from app.jobqueue.claim import claim_jobs
from app.jobqueue.registry import register_worker
from app.jobqueue.selection import OneServer
from app.jobqueue.submit import NewJob, create_jobs
from app.jobqueue.transitions import finish_job
from app.migrate import apply_migrations
from app.models import Server
from app.vault import Vault
from bench.common import load_average, machine, percentile
from tests.harness.postgres import PostgresCluster
from tests.harness.service import NEWREMORA

INSERT_PAGE: Final = 1000
RETENTION_DAYS: Final = 30
TARGET_S: Final = 1.0
CHUNK: Final = "line of output from an old job, as a command prints it\n" * 4


@dataclass
class Load:
    """Submissions and claims as they happened: monotonic times, one list per phase."""

    submitted: dict[str, float] = field(default_factory=dict)
    # job id -> (when claimed, phase): joined with ``submitted`` at the end (a claim may come before the submitter
    # thread has noted its job)
    claimed: dict[str, tuple[float, str]] = field(default_factory=dict)
    claim_times: dict[str, list[float]] = field(default_factory=lambda: {"baseline": [], "pruning": []})
    phase: str = "baseline"
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delays(self, phase: str) -> list[float]:
        """Submission (its commit) to claim, per job claimed in this phase."""
        return [
            max(0.0, at - self.submitted[job_id])
            for job_id, (at, claimed_in) in self.claimed.items()
            if claimed_in == phase and job_id in self.submitted
        ]


def seed(database: Database, server_id: str, jobs: int, chunks: int) -> None:
    """Ended jobs finished 200 days ago and before, in stored form (naive UTC), with their chunks."""
    oldest = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=200 + jobs / 86400)

    def rows(start: int, end: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        job_rows: list[tuple[Any, ...]] = []
        chunk_rows: list[tuple[Any, ...]] = []
        for i in range(start, end):
            job_id = str(uuid.uuid4())
            finished = oldest + timedelta(seconds=i)
            created = finished - timedelta(seconds=3)
            size = len(CHUNK) * chunks
            row = (job_id, server_id, "command", "uptime", 60, 5, "completed", 0, created, created, finished)
            job_rows.append((*row, size, chunks, 1, size, 0, 0, 0))
            chunk_rows.extend((job_id, seq, "stdout", CHUNK, len(CHUNK), finished) for seq in range(1, chunks + 1))
        return job_rows, chunk_rows

    def insert() -> None:
        cursor = database.peewee.cursor()
        for start in range(0, jobs, INSERT_PAGE):
            job_rows, chunk_rows = rows(start, min(jobs, start + INSERT_PAGE))
            with database.peewee.atomic():
                execute_values(
                    cursor,
                    "INSERT INTO job (id, server_id, kind, command, timeout, priority, status, exit_code, created_at,"
                    " started_at, finished_at, stored_bytes, last_seq, attempt, stdout_offset, stderr_offset,"
                    " stdout_omitted, stderr_omitted) VALUES %s",
                    job_rows,
                    page_size=INSERT_PAGE,
                )
                execute_values(
                    cursor,
                    "INSERT INTO job_chunk (job_id, seq, stream, data, size, at) VALUES %s",
                    chunk_rows,
                    page_size=INSERT_PAGE * chunks,
                )
        database.peewee.execute_sql("ANALYZE")

    database.call(insert)


def submitter(database: Database, vault: Vault, server_id: str, load: Load, rate: float, stop: threading.Event) -> None:
    new = NewJob(kind="command", timeout=60, command="true")
    while not stop.wait(1 / rate):
        submitted = database.call(create_jobs, new, OneServer(server_id), 3600, vault, "bench:prune")
        with load.lock:
            load.submitted[str(submitted.jobs[0].id)] = time.monotonic()


def claimer(database: Database, load: Load, stop: threading.Event) -> None:
    worker_id = database.call(register_worker, 1, 50)
    while not stop.is_set():
        began = time.monotonic()
        claimed = database.call(claim_jobs, NO_EVENTS, worker_id, 50, 1000, timedelta(minutes=5))
        now = time.monotonic()
        with load.lock:
            phase = load.phase
            if claimed:
                load.claim_times[phase].append(now - began)
            for one in claimed:
                load.claimed[str(one.job.id)] = (now, phase)
        for one in claimed:
            database.call(finish_job, NO_EVENTS, str(one.job.id), worker_id, 0, None, None)
        if not claimed:
            stop.wait(0.005)


def summary(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"p50 {percentile(values, 0.5) * 1000:.1f} ms, p95 {percentile(values, 0.95) * 1000:.1f} ms, "
        f"max {max(values) * 1000:.1f} ms (n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--rate", type=float, default=20.0, help="submissions per second")
    parser.add_argument("--baseline", type=float, default=15.0, help="seconds of load without pruning")
    args = parser.parse_args()
    print(f"bench.prune: {machine()}")
    cluster = PostgresCluster.start(Path(tempfile.mkdtemp(prefix="nr-bench-prune-")))
    try:
        cluster.create_database("prune")
        url = cluster.url("prune")
        database = Database(url, threads=4)
        try:
            database.call(apply_migrations, database.peewee)
            server_id = database.call(
                lambda: str(Server.create(name="s", hostname="127.0.0.1", user="u", auth_type="password").id)
            )
            began = time.monotonic()
            seed(database, server_id, args.jobs, args.chunks)
            seeded = time.monotonic() - began
            print(f"seeded {args.jobs} ended jobs with {args.jobs * args.chunks} chunks in {seeded:.0f} s")
            load = Load()
            stop = threading.Event()
            vault = Vault([Fernet.generate_key()])

            def guarded(work: Callable[..., None], *work_args: Any) -> threading.Thread:
                def run() -> None:
                    try:
                        work(*work_args)
                    except BaseException as exc:  # the figures would be wrong: the run fails, saying why
                        load.errors.append(exc)
                        stop.set()
                        raise

                return threading.Thread(target=run)

            threads = [
                guarded(submitter, database, vault, server_id, load, args.rate, stop),
                guarded(claimer, database, load, stop),
            ]
            for thread in threads:
                thread.start()
            try:
                time.sleep(args.baseline)  # the baseline phase: the load alone
                with load.lock:
                    load.phase = "pruning"
                env = {
                    **{k: v for k, v in os.environ.items() if not k.startswith("NEWREMORA_")},
                    "NEWREMORA_DATABASE_URL": url,
                    "NEWREMORA_JOB_RETENTION_DAYS": str(RETENTION_DAYS),
                    "NEWREMORA_LOG_LEVEL": "warning",
                }
                began = time.monotonic()
                pruned = subprocess.run(
                    [NEWREMORA, "prune"], env=env, capture_output=True, text=True, timeout=3600, check=False
                )
                took = time.monotonic() - began
            finally:
                stop.set()
                for thread in threads:
                    thread.join()
            if load.errors:
                print(f"the load failed: {load.errors[0]!r}", file=sys.stderr)
                return 1
            if pruned.returncode != 0:
                print(pruned.stdout, pruned.stderr, file=sys.stderr)
                return 1
            left = database.call(
                lambda: database.peewee.execute_sql(
                    "SELECT COUNT(*) FROM job WHERE finished_at < now() - interval '30 days'"
                ).fetchone()[0]
            )
        finally:
            database.close()
    finally:
        cluster.stop()
    print(f"prune: {took:.1f} s for `newremora prune` (process start included); it said:")
    for line in pruned.stdout.splitlines():
        print(f"  {line}")
    print(f"old jobs left: {left}")
    worst = max(load.delays("pruning"), default=0.0)
    for phase in ("baseline", "pruning"):
        print(f"{phase:>8}: claim delay {summary(load.delays(phase))}")
        print(f"{'':>8}  claim transaction {summary(load.claim_times[phase])}")
    print(
        f"target: no claim delayed by more than {TARGET_S:.0f} s while pruning: "
        f"{'met' if worst <= TARGET_S else 'NOT met'} (worst {worst * 1000:.0f} ms)"
    )
    print(load_average())
    return 0 if worst <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
