"""API reads: a filtered, searched page of GET /api/v1/jobs over 100,000 stored jobs, against the most trivial
JSON route of the same service (GET /health), on SQLite and on PostgreSQL, in the same run.

usage: python -m bench.api_reads [--jobs 100000] [--clients 20] [--seconds 8] [--rounds 2] [--backend both]

The jobs are written straight into the database through the app's models (a realistic mix of statuses,
servers, commands and scripts, created over 90 days). The service runs with no job workers (nothing runs)
and no rate limits. Load: wrk, one thread, CLIENTS connections each sending its next request as soon as the
previous answer arrived; the two routes alternate for ROUNDS rounds of SECONDS each, after a warm-up, so a
change in the machine's load hits both. Printed per route: request rate, p50/p95 latency, the service's
CPU-milliseconds per request, and wrk's own CPU; then the ratio of the two rates (the target: at least 0.5).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
from cryptography.fernet import Fernet

from bench.common import load_average, machine, process_cpu, service, tree_cpu
from bench.job_history import History, store_history
from bench.load import LoadResult, require_wrk, run_wrk
from tests.harness.postgres import PostgresCluster
from tests.harness.service import NEWREMORA

SERVERS = 20
WARM_UP_SECONDS = 2.0
TARGET_RATIO = 0.5


@dataclass(frozen=True)
class Backend:
    name: str
    env: dict[str, str]
    after_seeding: Callable[[], None]
    # CPU-seconds of the database server's processes so far (SQLite runs inside the service: always 0)
    database_cpu: Callable[[], float]


@contextlib.contextmanager
def sqlite_backend() -> Iterator[Backend]:
    workdir = Path(tempfile.mkdtemp(prefix="nr-bench-sqlite-"))
    try:
        # The embedded default as it is: migrated at start, never ANALYZEd.
        url = f"sqlite:///{workdir / 'newremora.db'}"
        yield Backend("SQLite", {"NEWREMORA_DATABASE_URL": url}, lambda: None, lambda: 0.0)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def postgres_backend() -> Iterator[Backend]:
    cluster = PostgresCluster.start(Path(tempfile.gettempdir()))
    try:
        cluster.create_database("newremora")
        env = {
            "NEWREMORA_DATABASE_URL": cluster.url("newremora"),
            "NEWREMORA_SECRET_KEY": Fernet.generate_key().decode(),
        }
        clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWREMORA_")}
        subprocess.run([NEWREMORA, "migrate"], env={**clean, **env}, capture_output=True, timeout=120, check=True)
        postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])

        def analyze() -> None:
            # Autovacuum analyzes a table that grew this much within a minute or so; do it now, as it would.
            cluster.execute("ANALYZE", dbname="newremora")

        yield Backend("PostgreSQL", env, analyze, lambda: tree_cpu(postmaster))
    finally:
        cluster.stop()


def add_servers(http: httpx.Client) -> list[str]:
    ids = []
    for i in range(SERVERS):
        body = {
            "name": f"web-{i:02d}",
            "hostname": "127.0.0.1",
            "port": 22000 + i,
            "user": "deploy",
            "auth_type": "password",
            "password": "never-used-here",
        }
        response = http.post("/api/v1/servers", json=body)
        response.raise_for_status()
        ids.append(str(response.json()["data"]["id"]))
    return ids


def check_listing(http: httpx.Client, path: str, history: History, status: str, search: str) -> int:
    """The page is right before it is timed: the newest 20 matching jobs, newest first, and the right total."""
    response = http.get(path)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    expected = history.newest_matching(status, search)
    assert data["pagination"]["total"] == len(expected), (data["pagination"], len(expected))
    assert [job["id"] for job in data["jobs"]] == expected[:20]
    return len(expected)


def _answers_at_once(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def settle(base_url: str, pid: int, quiet_for: float = 0.5, deadline: float = 120.0) -> None:
    """Wait until the service is idle: wrk leaves requests in flight when it stops, and the next run must not
    pay for them."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        before = process_cpu(pid)
        time.sleep(quiet_for)  # sampling the process's CPU counter: there is no event to wait for
        if process_cpu(pid) - before <= 0.02 and _answers_at_once(base_url):
            return
    raise RuntimeError(f"the service stayed busy for {deadline} s after the load stopped")


@dataclass(frozen=True)
class RouteResult:
    load: LoadResult
    service_cpu: float
    database_cpu: float

    def merged(self, other: RouteResult) -> RouteResult:
        return RouteResult(
            self.load.merged(other.load), self.service_cpu + other.service_cpu, self.database_cpu + other.database_cpu
        )

    @property
    def cpu_per_request(self) -> float:
        """Service and database CPU-seconds per request (including the few requests wrk left in flight)."""
        return (self.service_cpu + self.database_cpu) / max(self.load.requests, 1)

    def describe(self) -> str:
        load, per_request = self.load, 1000 / max(self.load.requests, 1)
        return (
            f"{load.rate:6.0f} req/s, p50 {load.p50 * 1000:5.1f} ms, p95 {load.p95 * 1000:5.1f} ms, "
            f"max {load.max * 1000:4.0f} ms; CPU-ms/request: service {self.service_cpu * per_request:.2f}, "
            f"database {self.database_cpu * per_request:.2f}; wrk {load.client_cpu / load.seconds * 100:.0f}% "
            f"of a core; {load.requests} requests, errors: {load.errors or 'none'}"
        )


def measure(
    base_url: str, pid: int, database_cpu: Callable[[], float], routes: dict[str, str], args: argparse.Namespace
) -> dict[str, RouteResult]:
    """Each route, in turn, for ``args.rounds`` rounds (after a warm-up), merged per route."""
    for path in routes.values():
        run_wrk(base_url + path, args.clients, WARM_UP_SECONDS)
        settle(base_url, pid)
    results: dict[str, RouteResult] = {}
    for _ in range(args.rounds):
        for name, path in routes.items():
            service_before, database_before = process_cpu(pid), database_cpu()
            load = run_wrk(base_url + path, args.clients, args.seconds)
            # Requests still in flight when wrk stops are served after it: their CPU counts for this route.
            settle(base_url, pid)
            result = RouteResult(load, process_cpu(pid) - service_before, database_cpu() - database_before)
            results[name] = results[name].merged(result) if name in results else result
    return results


def run_backend(backend: Backend, args: argparse.Namespace) -> None:
    env = {"NEWREMORA_WORKERS": "0", **backend.env}
    if args.db_threads:
        env["NEWREMORA_DB_THREADS"] = str(args.db_threads)
    with service(env) as running, httpx.Client(base_url=running.base_url, timeout=60) as http:
        servers = add_servers(http)
        started = time.monotonic()
        history = store_history(backend.env["NEWREMORA_DATABASE_URL"], servers, args.jobs)
        backend.after_seeding()
        stored_in = time.monotonic() - started
        listing = "/api/v1/jobs?" + urlencode({"limit": 20, "status": args.status, "search": args.search})
        started = time.monotonic()
        matching = check_listing(http, listing, history, args.status, args.search)
        first = time.monotonic() - started
        print(
            f"{backend.name}: {args.jobs} jobs stored in {stored_in:.1f} s; {matching} match the listing; its first "
            f"request (nothing cached) took {first * 1000:.0f} ms; {load_average()}"
        )
        routes = {"GET /health": "/health", f"GET {listing}": listing}
        results = measure(running.base_url, running.process.pid, backend.database_cpu, routes, args)
    for name, result in results.items():
        print(f"  {name:<68} {result.describe()}")
    failed = {name: result.load.errors for name, result in results.items() if result.load.errors}
    assert not failed, f"failed requests: {failed}"
    trivial, reads = results.values()
    ratio = reads.load.rate / trivial.load.rate
    print(
        f"  {backend.name} ratio listing / health: request rate {ratio:.2f} (target >= {TARGET_RATIO}: "
        f"{'met' if ratio >= TARGET_RATIO else 'MISSED'}); inverse ratio of CPU per request "
        f"{trivial.cpu_per_request / reads.cpu_per_request:.2f}; {load_average()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one timed run of one route")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--status", default="completed")
    parser.add_argument("--search", default="nginx")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--db-threads", type=int, help="NEWREMORA_DB_THREADS of the service (default: its own)")
    args = parser.parse_args()
    require_wrk()
    print(f"# API reads: {args.jobs} jobs, {args.clients} clients (wrk, 1 thread) ({machine()}); {load_average()}")
    backends = {"sqlite": sqlite_backend, "postgresql": postgres_backend}
    for name, backend in backends.items():
        if args.backend in (name, "both"):
            with backend() as chosen:
                run_backend(chosen, args)


if __name__ == "__main__":
    main()
