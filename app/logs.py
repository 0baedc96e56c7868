"""Logging setup: every record carries the request it belongs to, and the job(s) when there are any.

Two formats (NEWREMORA_LOG_FORMAT): ``text``, one line per record for people, and ``json``, one JSON object
per line for log collectors. Only the fields named here go into a JSON line, never arbitrary ``extra``
attributes: what a library attaches to a record (an environment, a command line) stays out.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

from app.clock import rfc3339

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# The jobs of what the current thread is doing (a worker thread's batch), for records that name none.
job_ids_var: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("job_ids", default=())

# Structured fields a record may carry (``log.info(..., extra={...})``), in the order a JSON line shows them.
FIELDS: Final = (
    "request_id",
    "job_id",
    "job_ids",
    "method",
    "path",
    "status",
    "duration_ms",
    "client",
    "worker_id",
)


@contextmanager
def jobs_in_context(job_ids: list[str]) -> Iterator[None]:
    """Records of this thread name these jobs until the block ends."""
    token = job_ids_var.set(tuple(job_ids))
    try:
        yield
    finally:
        job_ids_var.reset(token)


def now_working_on(job_ids: list[str]) -> None:
    """Inside ``jobs_in_context``: this thread has moved on to these jobs (a run's next round)."""
    job_ids_var.set(tuple(job_ids))


def for_job(job_id: str) -> dict[str, Any]:
    """``extra=`` for a record about one job."""
    return {"job_id": job_id}


class RequestIdFilter(logging.Filter):
    """Stamps each record with its request id and, when the thread works on jobs, their ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        if getattr(record, "job_id", None) is None:
            jobs = job_ids_var.get()
            record.job_id = jobs[0] if len(jobs) == 1 else None
            if len(jobs) > 1 and getattr(record, "job_ids", None) is None:
                record.job_ids = list(jobs)
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(context)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        context = f"request_id={getattr(record, 'request_id', '-')}"
        job_id = getattr(record, "job_id", None)
        if job_id:
            context += f" job_id={job_id}"
        record.context = context
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (RFC 3339 UTC), level, logger, message, the known fields present, and
    the exception's traceback as text."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": rfc3339(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None and value != "-":
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    apply_level(level)
    # Python warnings would otherwise be written to stderr as bare text, breaking one-object-per-line.
    logging.captureWarnings(True)


def apply_level(level: str) -> None:
    """The process's level, at start and when it changes at runtime (app/runtime_settings.py)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    # Peewee logs every statement with its parameters at DEBUG: job output and encrypted credentials do not
    # belong in logs, whatever the level asked for.
    logging.getLogger("peewee").setLevel(max(logging.INFO, root.level))
