"""The delivery thread of a process that runs workers: leases due notifications, POSTs each signed body, records
the attempt. Several processes deliver side by side; a lease keeps each notification to one of them at a time."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Final

import httpx

from app.db import Database
from app.notifications import outbox
from app.notifications.payloads import EVENT_HEADER, IDEMPOTENCY_HEADER, SIGNATURE_HEADER, body, public_url, signature
from app.settings import Settings
from app.vault import Vault

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_S: Final = 10.0
POLL_S: Final = 1.0
BATCH: Final = 20
MAX_ERROR_CHARS: Final = 500
USER_AGENT: Final = "NewRemora-Notifications/1"


class Deliverer:
    def __init__(self, settings: Settings, database: Database, vault: Vault) -> None:
        self._settings = settings
        self._database = database
        self._vault = vault
        self._holder = str(uuid.uuid4())
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify-delivery", daemon=True)
        self._base = public_url(settings)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=DELIVERY_TIMEOUT_S + 2)

    def _run(self) -> None:
        with httpx.Client(timeout=DELIVERY_TIMEOUT_S, follow_redirects=False, trust_env=False) as client:
            while not self._stop.is_set():
                try:
                    busy = self.run_pass(client)
                except Exception:  # a database away now is tried again at the next round
                    log.warning("notifications: delivery pass failed", exc_info=True)
                    busy = False
                if not busy:
                    self._wake.wait(POLL_S)
                    self._wake.clear()

    def run_pass(self, client: httpx.Client) -> bool:
        """One lease of due notifications, each sent; True if there were any (more may be due)."""
        leased = self._database.call(outbox.claim_due, self._holder, BATCH)
        for index, one in enumerate(leased):
            if self._stop.is_set():
                untouched = [rest.notification.id for rest in leased[index:]]
                self._database.call(outbox.release, untouched, self._holder)
                break
            self._deliver(client, one)
        return bool(leased)

    def _deliver(self, client: httpx.Client, leased: outbox.Leased) -> None:
        notification, target = leased.notification, leased.target
        number = int(notification.attempts) + 1
        data = body(json.loads(notification.payload), target.format, self._base)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature(self._vault.decrypt(target.secret_enc), data),
            EVENT_HEADER: notification.event,
            IDEMPOTENCY_HEADER: notification.idempotency_key,
        }
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            response = client.post(target.url, content=data, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            # The exception's text names the failure (refused, timed out); never the body or its signature.
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        outcome = outbox.Outcome(status, error, int((time.monotonic() - started) * 1000))
        state = self._database.call(
            outbox.record_attempt,
            notification.id,
            self._holder,
            number,
            outcome,
            float(self._settings.notify_backoff),
            self._settings.notify_max_attempts,
        )
        if state != outbox.DELIVERED:
            log.info("notification %s to %s: attempt %d %s (%s)", notification.event, target.name, number, state, error)
