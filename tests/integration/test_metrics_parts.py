"""The metrics' edges, without jobs: a database that is down, and the listener of a `newremora worker`."""

from __future__ import annotations

import socket

import httpx
import pytest

from app.db import Database
from app.errors import ConfigurationError
from app.metrics.database import FleetCollector
from app.metrics.process import ProcessMetrics
from app.metrics.server import MetricsServer
from app.settings import Secret
from tests.harness.metrics import Scrape


def test_a_database_that_is_down_leaves_the_process_figures_and_says_so() -> None:
    with socket.socket() as closed:  # a loopback port where nothing listens
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    database = Database(f"postgresql://nobody@127.0.0.1:{port}/none", threads=1)
    try:
        metrics = ProcessMetrics()
        metrics.registry.register(FleetCollector(database))
        body, _ = metrics.render()
    finally:
        database.close()
    scrape = Scrape.parse(body.decode())
    assert scrape.value("newremora_database_up") == 0
    assert not any(name == "newremora_jobs" for name, _ in scrape.samples)  # absent, not a false zero
    assert scrape.value("newremora_output_bytes_total", stream="stdout") == 0  # the process's own still come


def test_the_worker_listener_serves_metrics_only_with_the_token() -> None:
    metrics = ProcessMetrics()
    metrics.set_role("worker")
    server = MetricsServer(metrics, "127.0.0.1", 0, Secret("s3cret-token"))
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{url}/metrics", timeout=10).status_code == 401
        wrong = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401 and wrong.json()["error"].startswith("A valid metrics token")
        assert httpx.get(f"{url}/api/v1/jobs", timeout=10).status_code == 404
        ok = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer s3cret-token"}, timeout=10)
        assert ok.status_code == 200
        assert Scrape.parse(ok.text).value("newremora_process_info", role="worker", version="0.1.0") == 1
        # A second process on the same port stops with a message naming the setting, not a traceback.
        with pytest.raises(ConfigurationError, match="NEWREMORA_METRICS_PORT"):
            MetricsServer(metrics, "127.0.0.1", server.port, None)
    finally:
        server.stop()
