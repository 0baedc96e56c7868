"""The worker processes that claim from this database: registration, heartbeats, and stops (clean or not)."""

from __future__ import annotations

import os
import socket

from app.clock import utcnow
from app.models import Worker


def register_worker(threads: int, batch_size: int) -> str:
    worker = Worker.create(hostname=socket.gethostname(), pid=os.getpid(), threads=threads, batch_size=batch_size)
    return str(worker.id)


def stop_dead_local_workers() -> int:
    """Workers of this host whose process is gone (a kill -9, a crash) are stopped now, so their running
    jobs are re-attached at once rather than after the heartbeat timeout."""
    hostname = socket.gethostname()
    dead = [
        worker.id
        for worker in Worker.select().where((Worker.hostname == hostname) & Worker.stopped_at.is_null())
        if not _process_exists(worker.pid)
    ]
    if dead:
        Worker.update(stopped_at=utcnow()).where(Worker.id.in_(dead)).execute()
    return len(dead)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def heartbeat(worker_id: str) -> None:
    Worker.update(heartbeat_at=utcnow()).where(Worker.id == worker_id).execute()


def stop_worker(worker_id: str) -> None:
    Worker.update(stopped_at=utcnow()).where(Worker.id == worker_id).execute()
