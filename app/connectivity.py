"""Connectivity checks of stored servers, with what they learn recorded (host keys, last status)."""

from __future__ import annotations

from dataclasses import replace

from app.db import Database
from app.errors import SecretUnreadable
from app.jobqueue.contact import note_connectivity, trust_host_key
from app.models import Server
from app.reach import target_for
from app.runner.checks import CheckResult, check_targets
from app.runner.config import runner_config
from app.runner.spec import RunObserver, Target
from app.settings import Settings
from app.vault import Vault


def check_servers(
    settings: Settings, database: Database, vault: Vault, servers: list[Server], observe_run: RunObserver | None = None
) -> dict[str, CheckResult]:
    """Runs in a thread: one Ansible run for all the servers, concurrently."""
    if not servers:
        return {}
    targets: list[Target] = []
    unreadable: dict[str, CheckResult] = {}
    for server in servers:
        try:
            # A connectivity check is about SSH: it runs as the login user, whatever the server's become settings.
            targets.append(replace(target_for(server, vault), become_user=None, become_password=None))
        except SecretUnreadable as exc:
            # Its own answer; the other servers are still checked.
            unreadable[server.id] = CheckResult(False, None, None, exc.message, exc.failure_reason)
    results = unreadable
    if targets:
        results |= check_targets(
            runner_config(settings, observe_run),
            targets,
            lambda server_id, key: database.call(trust_host_key, server_id, key),
        )
    for server_id, result in results.items():
        database.call(note_connectivity, server_id, result.connected, result.message, result.response_time_ms)
    return results
