"""Following a job to its end: output to stdout and stderr as it arrives, reconnecting, Ctrl-C.

A thread reads the event stream (and reconnects after the last chunk it received when the connection
drops); the main thread writes the output, draws the status line and handles signals, so that a Ctrl-C is
never lost inside a blocking read.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import BinaryIO, Final

from app.client.api import Api
from app.client.config import ClientConfig
from app.client.errors import ApiError, ClientError
from app.client.outcome import EXIT_CLIENT, EXIT_LEFT, Outcome, outcome_of
from app.client.progress import StatusLine
from app.client.sse import Event

RETRY_DELAY: Final = 2.0  # what the service asks for in its `retry:` field
GIVE_UP_AFTER: Final = 60.0  # seconds of failed reconnects before the client stops following
TICK: Final = 0.1  # status line refresh, and how soon a signal is acted upon
CANCEL_TIMEOUT: Final = 15.0  # a cancel on the way out must not hold the terminal for long


@dataclass(frozen=True)
class _Reconnecting:
    reason: str


@dataclass(frozen=True)
class _Lost:
    error: ClientError


_Item = Event | _Reconnecting | _Lost


class _StreamReader(threading.Thread):
    def __init__(self, config: ClientConfig, job_id: str, items: queue.Queue[_Item]) -> None:
        super().__init__(name=f"stream-{job_id}", daemon=True)  # a client that leaves does not wait for it
        self.config = config
        self.job_id = job_id
        self.items = items
        self.after = 0

    def run(self) -> None:
        failing_since: float | None = None
        with Api(self.config) as api:
            while True:
                try:
                    with api.job_events(self.job_id, self.after) as events:
                        failing_since = None
                        for event in events:
                            if event.name == "output" and event.event_id and event.event_id.isdigit():
                                self.after = int(event.event_id)
                            self.items.put(event)
                            if event.name == "complete":
                                return
                    reason = "the stream ended early"
                except ApiError as exc:
                    if exc.status < 500 and exc.status != 429:
                        self.items.put(_Lost(exc))
                        return
                    reason = exc.message
                except ClientError as exc:
                    reason = exc.message
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > GIVE_UP_AFTER:
                    self.items.put(_Lost(ClientError(reason)))
                    return
                self.items.put(_Reconnecting(reason))
                time.sleep(RETRY_DELAY)


class _Leave(Exception):
    """Raised by the signal handlers: the client stops following now."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


class _Signals:
    """First Ctrl-C: noted (the follower cancels the job). Second Ctrl-C, SIGTERM, SIGHUP: leave at once."""

    def __init__(self, first_interrupt_leaves: bool) -> None:
        self.first_interrupt_leaves = first_interrupt_leaves
        self.interrupts = 0
        self.previous: dict[signal.Signals, signal._HANDLER] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT:
            self.interrupts += 1
            if self.interrupts == 1 and not self.first_interrupt_leaves:
                return
        raise _Leave(signum)

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Signals]:
        # Signal handlers can only be set from the main thread; elsewhere (tests) keep the defaults.
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                self.previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for old_signum, handler in self.previous.items():
                signal.signal(old_signum, handler)


class _Terminal:
    """Output and notices on stdout/stderr; notices start on a fresh line."""

    def __init__(self, line: StatusLine) -> None:
        self.line = line
        self.at_line_start = True
        self.streams: dict[str, BinaryIO] = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}

    def output(self, stream: str, content: str) -> None:
        if not content:
            return
        self.line.clear()
        target = self.streams.get(stream, self.streams["stdout"])
        target.write(content.encode("utf-8", "replace"))
        target.flush()
        self.at_line_start = content.endswith("\n")

    def notice(self, text: str) -> None:
        self.line.clear()
        prefix = "" if self.at_line_start else "\n"
        sys.stderr.write(f"{prefix}newremora: {text}\n")
        sys.stderr.flush()
        self.at_line_start = True


class _Cancel(threading.Thread):
    """The cancel request, in a thread of its own: a second Ctrl-C must not cut it off half-sent."""

    def __init__(self, config: ClientConfig, job_id: str) -> None:
        super().__init__(name=f"cancel-{job_id}", daemon=True)
        self.config = config
        self.job_id = job_id
        self.problem: str | None = None
        self.reported = False
        self.start()

    def run(self) -> None:
        try:
            with Api(self.config) as api:
                api.call("POST", f"/jobs/{self.job_id}/cancel", timeout=CANCEL_TIMEOUT)
        except ApiError as exc:
            if exc.status != 409:  # 409: it has just finished; its end comes on the stream
                self.problem = exc.message
        except ClientError as exc:
            self.problem = exc.message

    def failure(self) -> str | None:
        """Once, when the request has failed: what went wrong."""
        if self.is_alive() or self.problem is None or self.reported:
            return None
        self.reported = True
        return f"could not cancel job {self.job_id}: {self.problem}"

    def finish(self) -> str | None:
        """Wait for the answer (bounded); what went wrong, if anything."""
        self.join(CANCEL_TIMEOUT + 1)
        if self.is_alive():
            return f"no answer to the cancel of job {self.job_id}"
        return self.problem


def follow_job(
    config: ClientConfig, job_id: str, label: str, *, cancel_on_interrupt: bool, show_output: bool = True
) -> Outcome:
    """Follow the job to its end and say how it ended.

    With ``cancel_on_interrupt`` (``run``) the first Ctrl-C cancels the job and keeps following it, so that
    its last output and its end are shown; a second one leaves at once. SIGTERM and SIGHUP cancel and leave.
    Without it (a viewer such as ``logs --follow``) every signal just leaves; the job goes on.
    """
    items: queue.Queue[_Item] = queue.Queue()
    _StreamReader(config, job_id, items).start()
    line = StatusLine()
    terminal = _Terminal(line)
    signals = _Signals(first_interrupt_leaves=not cancel_on_interrupt)
    state = "waiting for the service"
    output_seen = False
    cancel: _Cancel | None = None
    try:
        with signals.installed():
            while True:
                if signals.interrupts and cancel is None:
                    terminal.notice(f"canceling job {job_id} (Ctrl-C again to leave without waiting)")
                    cancel = _Cancel(config, job_id)
                if cancel is not None and (problem := cancel.failure()):
                    terminal.notice(problem)
                try:
                    item = items.get(timeout=TICK)
                except queue.Empty:
                    if not output_seen:
                        line.show(f"job {job_id} {state}{label}")
                    continue
                if isinstance(item, _Lost):
                    return Outcome(
                        EXIT_CLIENT,
                        f"stopped following job {job_id}: {item.error.message}"
                        + ("" if isinstance(item.error, ApiError) else f"; see `newremora logs {job_id} -f`"),
                    )
                if isinstance(item, _Reconnecting):
                    state = "(reconnecting to the service)"
                    continue
                if item.name == "output" and show_output:
                    data = item.json()
                    terminal.output(str(data.get("type", "stdout")), str(data.get("content", "")))
                    output_seen = True
                elif item.name == "status":
                    data = item.json()
                    state = str(data.get("status", state))
                    if data.get("cancel_requested_at"):
                        state = "canceling"
                    elif data.get("contact_lost_at"):
                        state = "running (lost contact with the server; reconnecting)"
                elif item.name == "complete":
                    line.clear()
                    return outcome_of(job_id, item.json())
    except _Leave as leave:
        line.clear()
        if not cancel_on_interrupt:
            return Outcome(EXIT_LEFT if leave.signum == signal.SIGINT else 128 + leave.signum)
        name = signal.Signals(leave.signum).name
        code = EXIT_LEFT if leave.signum == signal.SIGINT else 128 + leave.signum
        cancel = cancel or _Cancel(config, job_id)
        problem = cancel.finish()
        if problem:
            return Outcome(code, f"{name}: left job {job_id}, which may still run: {problem}")
        return Outcome(code, f"{name}: left job {job_id}, which is being canceled; see `newremora logs {job_id} -f`")
