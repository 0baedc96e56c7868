"""How many jobs a new Ansible run of a worker pool waits for (app/worker.py WorkerPool._batch_fill): pure
bookkeeping of the pool's threads, no database or Ansible involved."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

from app.secrets import Vault
from app.settings import Settings
from app.worker import FILL_WAIT_S, WorkerPool, _Slot


def pool_of(tmp_path: Path, cores: int, **states: dict[str, Any]) -> tuple[WorkerPool, _Slot]:
    settings = Settings(data_dir=tmp_path / "data", batch_size=32)
    pool = WorkerPool(settings, cast(Any, None), Vault.from_settings(settings))
    pool._cores = cores
    for name, state in states.items():
        slot = _Slot(name)
        for key, value in state.items():
            setattr(slot, key, value)
        pool._slots.append(slot)
    deciding = _Slot("deciding")
    pool._slots.append(deciding)
    return pool, deciding


def test_an_idle_pool_starts_a_lone_job_at_once(tmp_path: Path) -> None:
    long_ago = time.monotonic() - FILL_WAIT_S - 1
    pool, deciding = pool_of(tmp_path, 2, busy_with_long_jobs={"jobs": ["j"], "round_started": long_ago})
    assert pool._batch_fill(deciding) == 1


def test_runs_about_to_take_work_are_left_a_burst(tmp_path: Path) -> None:
    now = time.monotonic()
    pool, deciding = pool_of(tmp_path, 2, starting={"jobs": ["j"], "round_started": now - 60, "starting": True})
    assert pool._batch_fill(deciding) == 16  # a run still starting Ansible, however long it takes
    pool, deciding = pool_of(tmp_path, 2, warm={"warm": True}, fresh={"jobs": ["j"], "round_started": now})
    assert pool._batch_fill(deciding) == 32  # as many as cores: a new run only for a whole batch
    pool, deciding = pool_of(tmp_path, 4, warm={"warm": True}, claiming={"claiming": True})
    assert pool._batch_fill(deciding) == 16
