"""The thread that fires due schedules (app/schedules.py) in every process that runs workers (``serve`` and
``worker``): however many run, each tick is claimed once through the database."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from app.clock import utcnow
from app.db import Database
from app.schedules import fire_due, next_due
from app.vault import Vault

log = logging.getLogger(__name__)

# Longest sleep: a schedule created or changed in another process is seen within it.
MAX_SLEEP_S: Final = 1.0


class ScheduleTicker:
    def __init__(
        self, database: Database, vault: Vault, max_timeout: Callable[[], int], launched: Callable[[], None]
    ) -> None:
        self._database = database
        self._vault = vault
        self._max_timeout = max_timeout  # read at each pass: changeable at runtime
        self._launched = launched  # wakes this process's workers: the jobs are theirs to claim at once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedule-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def run_pass(self) -> float:
        """Fire what is due; returns how long to sleep before the next pass."""
        fired = self._database.call(fire_due, self._vault, self._max_timeout())
        if any(one.launched is not None for one in fired):
            self._launched()
        upcoming = self._database.call(next_due)
        if upcoming is None:
            return MAX_SLEEP_S
        return max(0.0, min(MAX_SLEEP_S, (upcoming - utcnow()).total_seconds()))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pause = self.run_pass()
            except Exception:  # a database away now is tried again at the next pass
                log.warning("schedules: a pass failed", exc_info=True)
                pause = MAX_SLEEP_S
            self._stop.wait(pause)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
