"""Settings an administrator may change while the service runs, without a restart.

Each starts at its environment value (app/settings.py, ``NEWREMORA_*``, or the built-in default); a value stored in
the database (table ``runtime_setting``) overrides it until it is reset. Bounds and descriptions are the
environment settings' own: one rule per setting, whichever way it is set.

Every process reads the stored values from memory (``LiveSettings``), refreshed from the database once per
``LIVE_SETTINGS_TTL_S`` by a thread of its own (``SettingsWatcher``): a change made through another process (an
API node, ``newremora settings``) counts within about that bound, one made through this process at once. The
watcher also applies what a process must apply itself (the log level).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from app.clock import utcnow
from app.db import Database
from app.errors import InvalidInput
from app.models import RuntimeSetting
from app.settings import Choice, IntIn, Settings

log = logging.getLogger(__name__)

LIVE_SETTINGS_TTL_S: Final = 1.0
Source = Literal["runtime", "environment", "default"]


@dataclass(frozen=True)
class Changeable:
    """One setting that may change at runtime: its environment setting's parser (bounds) and how a change acts."""

    name: str
    effect: str

    @property
    def parse(self) -> Callable[[str], Any]:
        parse: Callable[[str], Any] = _FIELDS[self.name].metadata["parse"]
        return parse

    @property
    def doc(self) -> str:
        doc: str = _FIELDS[self.name].metadata["doc"]
        return doc

    @property
    def integer(self) -> bool:
        return isinstance(self.parse, IntIn)

    @property
    def bounds(self) -> tuple[int, int] | None:
        parse = self.parse
        return (parse.low, parse.high) if isinstance(parse, IntIn) else None

    @property
    def choices(self) -> tuple[str, ...] | None:
        parse = self.parse
        return parse.allowed if isinstance(parse, Choice) else None

    def validated(self, value: Any) -> Any:
        """A value sent as JSON (an integer, or a string of the choices), checked against the setting's bounds."""
        if self.integer:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(f"{self.name}: expected an integer, got {json.dumps(value)}")
        elif not isinstance(value, str):
            raise InvalidInput(f"{self.name}: expected a string, got {json.dumps(value)}")
        return self.from_text(str(value))

    def from_text(self, raw: str) -> Any:
        """A value typed in a terminal (``newremora settings set``)."""
        try:
            return self.parse(raw)
        except ValueError as exc:
            raise InvalidInput(f"{self.name}: {exc}") from None


_FIELDS: Final = {f.name: f for f in dataclasses.fields(Settings)}

# What may change at runtime, each with how the change acts. A setting is here only when every place that uses it
# reads its live value (tests/integration/test_runtime_settings.py changes each and sees it act).
REGISTRY: Final[dict[str, Changeable]] = {
    c.name: c
    for c in (
        Changeable("audit_retention_days", "the pruner reads it at each pass (at start, then hourly); 0 stops pruning"),
        Changeable("job_retention_days", "the pruner reads it at each pass (at start, then hourly); 0 stops pruning"),
        Changeable(
            "output_retention_days", "the pruner reads it at each pass (at start, then hourly); 0 stops pruning"
        ),
        Changeable(
            "notification_retention_days",
            "the pruner reads it at each pass (at start, then hourly); 0 stops pruning",
        ),
        Changeable("max_job_timeout", "job submissions and duplicates are checked against it"),
        Changeable("log_level", "each process (API and worker) sets its level within about a second"),
        Changeable("rate_limit", "the next request counts against it (a changed limit starts a fresh count)"),
        Changeable("job_rate_limit", "the next submission counts against it (a changed limit starts a fresh count)"),
        Changeable("session_idle_minutes", "every browser session's next request is checked against it"),
        Changeable("session_max_hours", "every browser session's next request is checked against it"),
        Changeable("signin_user_failures", "the next sign-in is checked against it"),
        Changeable("signin_address_failures", "the next sign-in is checked against it"),
        Changeable("signin_window_minutes", "the next sign-in counts the failures of this window"),
    )
}


def changeable(name: str) -> Changeable:
    found = REGISTRY.get(name)
    if found is None:
        raise InvalidInput(f"{name}: not a setting that can change at runtime (those are: {', '.join(REGISTRY)})")
    return found


@dataclass(frozen=True)
class Stored:
    value: Any
    changed_at: datetime
    changed_by: str


def load_stored() -> dict[str, Stored]:
    """The runtime values in the database. A row that no longer parses (bounds narrowed by an upgrade) is left
    out, with a warning: the environment's value holds until an administrator sets it again."""
    found: dict[str, Stored] = {}
    for row in RuntimeSetting.select():
        setting = REGISTRY.get(row.name)
        if setting is None:
            continue
        try:
            value = setting.validated(json.loads(row.value))
        except (InvalidInput, ValueError):
            log.warning("runtime setting %s: stored value %s ignored (out of bounds)", row.name, row.value[:64])
            continue
        found[row.name] = Stored(value, row.changed_at, row.changed_by)
    return found


def base_value(env: Settings, name: str) -> tuple[Any, Source]:
    """A setting's value without a runtime override, and whether the environment set it or it is the default."""
    value = getattr(env, name)
    return value, ("default" if value == _FIELDS[name].default else "environment")


@dataclass(frozen=True)
class Shown:
    """One setting as GET /api/v1/settings and ``newremora settings list`` show it."""

    name: str
    value: Any
    source: Source
    environment_value: Any
    environment_source: Source
    changed_at: datetime | None
    changed_by: str | None
    setting: Changeable


def show(env: Settings, stored: Mapping[str, Stored]) -> list[Shown]:
    shown = []
    for name, setting in REGISTRY.items():
        base, base_source = base_value(env, name)
        override = stored.get(name)
        shown.append(
            Shown(
                name=name,
                value=base if override is None else override.value,
                source=base_source if override is None else "runtime",
                environment_value=base,
                environment_source=base_source,
                changed_at=None if override is None else override.changed_at,
                changed_by=None if override is None else override.changed_by,
                setting=setting,
            )
        )
    return shown


@dataclass(frozen=True)
class Change:
    name: str
    old: Any
    new: Any


def validate(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Every given setting checked before anything is written (all or nothing): name -> value, None to reset."""
    if not changes:
        raise InvalidInput('give at least one setting to change, e.g. {"log_level": "debug"}')
    for name in changes:
        changeable(name)
    # In the registry's order, whatever the request's: answers and audit rows read the same for the same change.
    ordered = [name for name in REGISTRY if name in changes]
    return {name: None if changes[name] is None else REGISTRY[name].validated(changes[name]) for name in ordered}


def apply_changes(env: Settings, values: Mapping[str, Any], actor: str) -> list[Change]:
    """In a database thread: the validated values written in one transaction (None: the row deleted, back to the
    environment's value). Returns each setting's effective value before and after."""
    with RuntimeSetting._meta.database.atomic():
        before = load_stored()
        result = []
        for name, value in values.items():
            old = before[name].value if name in before else base_value(env, name)[0]
            RuntimeSetting.delete().where(RuntimeSetting.name == name).execute()
            if value is None:
                new = base_value(env, name)[0]
            else:
                RuntimeSetting.create(name=name, value=json.dumps(value), changed_at=utcnow(), changed_by=actor[:255])
                new = value
            result.append(Change(name, old, new))
    return result


def audit_summary(changes: list[Change]) -> dict[str, Any]:
    """What the audit row says of a change: each setting given, its effective value before and after."""
    return {change.name: {"old": change.old, "new": change.new} for change in changes}


class LiveSettings:
    """The effective runtime settings of this process, from memory. ``refresh`` (in a database thread) reads the
    stored values and calls ``on_change`` for each setting whose effective value changed."""

    def __init__(self, env: Settings) -> None:
        self.env = env
        self._stored: dict[str, Stored] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str, Any], None]] = []

    def on_change(self, listener: Callable[[str, Any], None]) -> None:
        self._listeners.append(listener)

    def value(self, name: str) -> Any:
        stored = self._stored.get(name)
        return getattr(self.env, name) if stored is None else stored.value

    @property
    def max_job_timeout(self) -> int:
        return int(self.value("max_job_timeout"))

    @property
    def audit_retention_days(self) -> int:
        return int(self.value("audit_retention_days"))

    @property
    def log_level(self) -> str:
        return str(self.value("log_level"))

    @property
    def rate_limit(self) -> int:
        return int(self.value("rate_limit"))

    @property
    def job_rate_limit(self) -> int:
        return int(self.value("job_rate_limit"))

    @property
    def session_idle_minutes(self) -> int:
        return int(self.value("session_idle_minutes"))

    @property
    def session_max_hours(self) -> int:
        return int(self.value("session_max_hours"))

    @property
    def signin_user_failures(self) -> int:
        return int(self.value("signin_user_failures"))

    @property
    def signin_address_failures(self) -> int:
        return int(self.value("signin_address_failures"))

    @property
    def signin_window_minutes(self) -> int:
        return int(self.value("signin_window_minutes"))

    def stored(self) -> dict[str, Stored]:
        return dict(self._stored)

    def refresh(self) -> None:
        stored = load_stored()
        with self._lock:  # the watcher and a PATCH's own refresh may overlap: listeners see each change once
            before = {name: self.value(name) for name in REGISTRY}
            self._stored = stored
            changed = [(name, self.value(name)) for name in REGISTRY if self.value(name) != before[name]]
            for name, value in changed:
                log.info("runtime setting %s is now %s", name, value)
                for listener in self._listeners:
                    listener(name, value)


class SettingsWatcher:
    """Refreshes a process's ``LiveSettings`` once per ``every_s``, in a thread of its own: no request waits for
    it, and a worker process (no requests) hears of changes too."""

    def __init__(self, database: Database, live: LiveSettings, every_s: float = LIVE_SETTINGS_TTL_S) -> None:
        self._database = database
        self._live = live
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="settings-watch", daemon=True)

    def start(self) -> None:
        self._database.call(self._live.refresh)  # the stored values hold from the first request on
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self._database.call(self._live.refresh)
            except Exception:  # a database away now is read again at the next tick (app/db.py says so once)
                log.debug("runtime settings: refresh failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
