"""The database of an admin command (``token``, ``import-inventory``, ``health``, ``migrate``), and the scope flags
of ``user`` and ``token``.

It is the service's own, found with the same ``NEWREMORA_*`` settings as ``serve``, and named on stderr. An admin
command never creates a database by accident: run in the wrong directory, it used to make an empty ``./var`` and
fail on a missing table, or advise a migrate that would have made a second, disconnected database. A missing
SQLite file, or a database without the current schema, stops it with what to run instead; ``migrate`` and
``--create`` are the two ways to ask for a new database.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import unquote, urlsplit, urlunsplit

from app.db import Database
from app.errors import ConfigurationError
from app.migrate import apply_migrations, pending_migrations
from app.scopes import ScopeNames
from app.settings import Settings


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file the settings name (absolute), or None for PostgreSQL."""
    url = settings.effective_database_url
    if not url.startswith("sqlite:///"):
        return None
    return Path(unquote(url.removeprefix("sqlite:///"))).absolute()


def shown_url(url: str) -> str:
    """A database URL fit for a terminal: the password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def describe(settings: Settings) -> str:
    """Which database, and from which setting: what the ``using database:`` line says."""
    path = sqlite_path(settings)
    if path is None:
        return f"{shown_url(settings.effective_database_url)} (NEWREMORA_DATABASE_URL)"
    if settings.database_url is not None:
        return f"{path} (NEWREMORA_DATABASE_URL)"
    return f"{path} (NEWREMORA_DATA_DIR={settings.data_dir.absolute()})"


def migrate_command(settings: Settings) -> str:
    """``newremora migrate`` with the setting that names this database (a PostgreSQL password left out)."""
    if settings.database_url is not None:
        return f"NEWREMORA_DATABASE_URL='{shown_url(settings.database_url)}' newremora migrate"
    return f"NEWREMORA_DATA_DIR={settings.data_dir.absolute()} newremora migrate"


def open_database(settings: Settings, create: bool = False, err: TextIO | None = None) -> Database:
    """The service's database, migrated; with ``create``, made (and migrated) when it does not exist yet.

    Raises ConfigurationError (the command exits 2) with what to run when the SQLite file is missing or the
    schema is not current; a PostgreSQL server that does not answer is DatabaseUnavailable, as for ``serve``.
    """
    print(f"using database: {describe(settings)}", file=err or sys.stderr)
    path = sqlite_path(settings)
    if path is not None and not path.exists() and not create:
        raise ConfigurationError(
            f"no database at {path}: admin commands use the service's database and do not create one.\n"
            "  Run this with the service's settings: set NEWREMORA_DATA_DIR (or NEWREMORA_DATABASE_URL) as the "
            "service has it, or cd to the directory where the service runs (NEWREMORA_DATA_DIR defaults to ./var).\n"
            f"  For a new install, create this database first: {migrate_command(settings)} (or add --create)."
        )
    database = Database(settings.effective_database_url, threads=1)
    try:
        with database.connection():
            pending = pending_migrations(database.peewee)
            if pending and create:
                apply_migrations(database.peewee)
            elif pending:
                names = ", ".join(m.name for m in pending)
                raise ConfigurationError(
                    f"the database {describe(settings)} does not have the current schema ({names} pending).\n"
                    f"  If this is the service's database, migrate it: {migrate_command(settings)}\n"
                    "  If not, set NEWREMORA_DATA_DIR or NEWREMORA_DATABASE_URL as the service has them."
                )
    except BaseException:
        database.close()
        raise
    return database


def add_scope_flags(parser: argparse.ArgumentParser, unlimited: bool = False) -> None:
    """``--group`` and ``--server`` (each repeatable): the scope of a user or key (docs/access.md, "Scopes")."""
    parser.add_argument("--group", action="append", default=[], help="limit to this group (repeatable)")
    parser.add_argument("--server", action="append", default=[], help="limit to this server (repeatable)")
    if unlimited:
        parser.add_argument("--unlimited", action="store_true", help="no limit: every group and server")


def scope_flags(args: argparse.Namespace) -> ScopeNames | None:
    """The scope the flags name, None for none (unlimited)."""
    if getattr(args, "unlimited", False):
        if args.group or args.server:
            raise ConfigurationError("--unlimited: give it alone, without --group or --server")
        return None
    if not args.group and not args.server:
        return None
    return ScopeNames(tuple(args.group), tuple(args.server))


def scope_text(names: ScopeNames | None) -> str:
    """A scope as ``user list`` and ``token list`` show it: ``groups web; servers db1``, or ``unlimited``."""
    if names is None:
        return "unlimited"
    parts = [f"{kind} {','.join(values)}" for kind, values in (("groups", names.groups), ("servers", names.servers))]
    shown = "; ".join(part for part in parts if not part.endswith(" "))
    return shown + (f" (within {scope_text(names.within)})" if names.within is not None else "")
