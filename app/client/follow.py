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
from typing import BinaryIO

from app.client.api import Api
from app.client.config import ClientConfig
from app.client.errors import ApiError, ClientError
from app.client.outcome import EXIT_CLIENT, EXIT_LEFT, Outcome, outcome_of
from app.client.progress import StatusLine
from app.client.sse import Event

RETRY_DELAY = 2.0  # what the service asks for in its `retry:` field
GIVE_UP_AFTER = 60.0  # seconds of failed reconnects before the client stops following
TICK = 0.1  # status line refresh, and how soon a signal is acted upon
CANCEL_TIMEOUT = 15.0  # a cancel on the way out must not hold the terminal for long


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
    cancel_sent = False
    with Api(config) as api:
        try:
            with signals.installed():
                while True:
                    if signals.interrupts and not cancel_sent:
                        cancel_sent = True
                        terminal.notice(f"canceling job {job_id} (Ctrl-C again to leave without waiting)")
                        _request_cancel(api, job_id, terminal)
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
                        state = "canceling" if data.get("cancel_requested_at") else str(data.get("status", state))
                    elif item.name == "complete":
                        line.clear()
                        return outcome_of(job_id, item.json())
        except _Leave as leave:
            line.clear()
            if leave.signum == signal.SIGINT and not cancel_on_interrupt:
                return Outcome(EXIT_LEFT)
            if leave.signum != signal.SIGINT and cancel_on_interrupt and not cancel_sent:
                _request_cancel(api, job_id, terminal)
                name = signal.Signals(leave.signum).name
                return Outcome(128 + leave.signum, f"{name}: asked the service to cancel job {job_id}, and left")
            if leave.signum != signal.SIGINT:
                return Outcome(128 + leave.signum)
            return Outcome(EXIT_LEFT, f"left job {job_id} while it is canceled; see `newremora logs {job_id} -f`")


def _request_cancel(api: Api, job_id: str, terminal: _Terminal) -> None:
    try:
        api.call("POST", f"/jobs/{job_id}/cancel", timeout=CANCEL_TIMEOUT)
    except ApiError as exc:
        if exc.status != 409:  # 409: it has just finished; its end comes on the stream
            terminal.notice(f"could not cancel job {job_id}: {exc.message}")
    except ClientError as exc:
        terminal.notice(f"could not cancel job {job_id}: {exc.message}")
