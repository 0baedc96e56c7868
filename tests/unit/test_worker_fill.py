"""How many jobs a new Ansible run of a worker pool waits for (app/worker.py WorkerPool._batch_fill): pure
bookkeeping of the pool's threads, no database or Ansible involved."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

from app.jobqueue.announce import NO_EVENTS
from app.secrets import Vault
from app.settings import Settings
from app.worker import FILL_WAIT_S, WorkerPool, _Slot


def pool_of(tmp_path: Path, cores: int, **states: dict[str, Any]) -> tuple[WorkerPool, _Slot]:
    settings = Settings(data_dir=tmp_path / "data", batch_size=32)
    pool = WorkerPool(settings, cast(Any, None), Vault.from_settings(settings), NO_EVENTS)
    pool._cores = cores
    for name, state in states.items():
        slot = _Slot(name)
        for key, value in state.items():
            setattr(slot, key, value)
        pool._slots.append(slot)
    deciding = _Slot("deciding")
    pool._slots.append(deciding)
    return pool, deciding


def round_of(count: int, running: int, started: float) -> dict[str, Any]:
    jobs = [f"job-{n}" for n in range(count)]
    return {"jobs": jobs, "running": set(jobs[:running]), "round_started": started, "commands": True}


def test_an_idle_pool_starts_a_lone_job_at_once(tmp_path: Path) -> None:
    long_ago = time.monotonic() - FILL_WAIT_S - 1
    pool, deciding = pool_of(tmp_path, 2, busy_with_long_jobs=round_of(3, 1, long_ago))
    assert pool._batch_fill(deciding) == 1
    just_now = time.monotonic()
    pool, deciding = pool_of(tmp_path, 2, playbook={"jobs": ["p"], "running": {"p"}, "round_started": just_now})
    assert pool._batch_fill(deciding) == 1  # a playbook job's run takes nothing more


def test_runs_about_to_take_work_are_left_a_burst(tmp_path: Path) -> None:
    now = time.monotonic()
    pool, deciding = pool_of(tmp_path, 2, full=round_of(32, 32, now))
    assert pool._batch_fill(deciding) == 16  # a round begun just now, no room: its next round is close
    pool, deciding = pool_of(tmp_path, 2, full=round_of(32, 32, now), other=round_of(32, 32, now))
    assert pool._batch_fill(deciding) == 32  # as many as cores: a new run only for a whole batch


def test_the_room_of_runs_taking_queued_jobs_at_once_is_theirs(tmp_path: Path) -> None:
    """A run waiting for work, claiming, starting Ansible, or in a round begun within FILL_WAIT_S takes up to a
    batch (32) of queued jobs without a start-up: a new run starts only for jobs beyond that room."""
    now = time.monotonic()
    starting = {"jobs": ["j"], "running": {"j"}, "round_started": now - 60, "starting": True, "commands": True}
    pool, deciding = pool_of(tmp_path, 2, starting=starting)
    assert pool._batch_fill(deciding) == 16 + 31  # however long its start-up takes
    pool, deciding = pool_of(tmp_path, 2, ending=round_of(32, 2, now))
    assert pool._batch_fill(deciding) == 16 + 30  # 30 of its round's jobs have ended: its next round takes 30
    pool, deciding = pool_of(tmp_path, 2, warm={"warm": True}, full=round_of(32, 32, now))
    assert pool._batch_fill(deciding) == 32 + 32
    pool, deciding = pool_of(tmp_path, 4, warm={"warm": True}, claiming={"claiming": True})
    assert pool._batch_fill(deciding) == 16 + 32 + 32
