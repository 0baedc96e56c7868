"""The ``newremora`` command.

Service: serve | worker | health | migrate | token | user | settings | import-inventory | audit | prune. Client of a
running service: servers | run | jobs | logs | cancel (see app/client).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from datetime import UTC, datetime
from typing import Final

from app.client.parser import CLIENT_COMMANDS, add_client_commands, run_client_command, split_remote_command
from app.errors import ConfigurationError, DatabaseUnavailable, NewRemoraError
from app.files import private_umask
from app.logs import configure_logging
from app.principals import Role, as_role
from app.settings import Settings

log = logging.getLogger("newremora")

CREATE_HELP: Final = "create and migrate the database if there is none yet (else: exit 2, saying what to run)"
FROM_FILE_HELP: Final = "read the password from the first line of this file ('-': standard input), not a prompt"


def _role(text: str) -> Role:
    try:
        return as_role(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _expiry(text: str) -> datetime:
    from app.schemas.users import parse_expiry

    try:
        return parse_expiry(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _bind_address(settings: Settings) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"{host}:{settings.port}"


async def _serve(settings: Settings) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from app import create_app
    from app.oidc import OidcConfig
    from app.runtime import Runtime
    from app.users import refuse_open_exposure

    # A half-configured single sign-on stops the start before anything touches the database.
    single_sign_on = OidcConfig.from_settings(settings) is not None
    # Open (and for SQLite, migrate) once before binding the port, so that a bad key, an unreachable
    # database or a schema that is behind ends the start with one clear line instead of a traceback.
    checked = Runtime.open(settings)
    try:
        # With single sign-on the API is never open (app/api/access.py): nothing to refuse.
        if not single_sign_on:
            checked.database.call(refuse_open_exposure, settings.host, settings.allow_open_api)
    finally:
        checked.close()
    app = create_app(settings)
    config = Config()
    config.bind = [_bind_address(settings)]
    config.accesslog = None  # the app logs each request with its request id
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 10
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("serving on http://%s", _bind_address(settings))
    await serve(app, config, shutdown_trigger=stop.wait)


def _worker(settings: Settings) -> None:
    """Workers only, no HTTP: for scale-out, beside API nodes started with `serve --no-workers`."""
    from app.runtime import Runtime
    from app.stop import stop_on_signals

    if settings.workers < 1:
        raise ConfigurationError("newremora worker needs at least one thread (--threads or NEWREMORA_WORKERS)")
    runtime = Runtime.open(settings)
    with stop_on_signals() as stop:
        runtime.start_workers_only()
        log.info("worker process started: %d threads, batches of up to %d", settings.workers, settings.batch_size)
        stop.wait()
        log.info("stopping: jobs keep running on their targets and will be re-attached")
    runtime.close()


def _health(settings: Settings, worker: bool) -> int:
    """Exit 0 when the database answers (and, with --worker, a worker process of this host is alive)."""
    import socket

    from app.admin import open_database
    from app.jobqueue.stats import live_workers

    try:
        database = open_database(settings)
    except ConfigurationError as exc:
        print(f"unhealthy: {str(exc).splitlines()[0]}")
        return 1
    except DatabaseUnavailable as exc:
        print(f"unhealthy: database unavailable ({str(exc.__cause__).splitlines()[0]})")
        return 1
    try:
        if worker:
            hostname = socket.gethostname()
            mine = [w for w in database.call(live_workers) if w.worker.hostname == hostname]
            if not mine:
                print(f"unhealthy: no live worker on {hostname}")
                return 1
            print(f"healthy: {len(mine)} live worker process(es) on {hostname}")
        else:
            print("healthy: database connected")
        return 0
    except DatabaseUnavailable as exc:
        print(f"unhealthy: database unavailable ({str(exc.__cause__).splitlines()[0]})")
        return 1
    finally:
        database.close()


def _migrate(settings: Settings) -> None:
    from app.admin import describe
    from app.db import Database
    from app.files import private_dir
    from app.migrate import apply_migrations

    # The one command (with --create) that makes a new database: so it says which, before it does.
    print(f"using database: {describe(settings)}", file=sys.stderr)
    if settings.database_url is None:
        private_dir(settings.data_dir)
    database = Database(settings.effective_database_url, threads=1)
    try:
        with database.connection():
            applied = apply_migrations(database.peewee)
    finally:
        database.close()
    print("applied: " + ", ".join(applied) if applied else "the schema is up to date")


def _token(args: argparse.Namespace, settings: Settings) -> None:
    from app import apikeys, users
    from app.admin import open_database, scope_flags
    from app.audit import run_audited
    from app.groups import scope_of_names

    database = open_database(settings, create=args.action == "create" and args.create)
    try:
        if args.action == "create":
            names = scope_flags(args)

            def create() -> apikeys.NewKey:
                owner = users.find_user(args.user) if args.user else None
                scope = scope_of_names(names) if names is not None else None
                return apikeys.create_key(args.name, owner, args.role, args.expires, scope)

            scope_given = {"groups": args.group or None, "servers": args.server or None}
            given = {"name": args.name, "user": args.user, "role": args.role, **scope_given}
            summary = {field: value for field, value in given.items() if value is not None}
            created = run_audited(database, "key.create", "api_key", create, lambda made: str(made.record.id), summary)
            owner = f", of {args.user}" if args.user else ", an administrator key of no user"
            print(f"API key {created.record.id} ({args.name}{owner}) created. It is shown once; keep it safe:")
            print(created.key)
        elif args.action == "list":
            for key in database.call(apikeys.list_keys):
                state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
                if key.revoked_at is None and key.expires_at is not None:
                    state = f"expires {key.expires_at:%Y-%m-%d %H:%M}"
                used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
                holder = key.user if key.user_id is not None else None
                owner = holder.username if holder is not None else "-"
                role = apikeys.effective_role(key.role, holder.role if holder is not None else None)
                print(f"{key.id}  {key.prefix}…  {key.name:<20}  {owner:<16} {role:<8}  {state:<24}  last used {used}")
        else:
            revoked = run_audited(
                database, "key.revoke", "api_key", lambda: apikeys.revoke_key(args.key), lambda r: str(r.id), {}
            )
            print(f"API key {revoked.id} ({revoked.name}) revoked")
    finally:
        database.close()


def _read_password(args: argparse.Namespace) -> str:
    """From --password-file (its first line; '-': standard input) or a prompt asked twice: never argv, where any
    user of the machine can read it."""
    import getpass

    if args.password_file:
        if args.password_file == "-":  # noqa: S105 (standard input, not a password)
            text = sys.stdin.readline()
        else:
            with open(args.password_file, encoding="utf-8") as source:
                text = source.readline()
        return text.rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigurationError("the two passwords differ")
    return first


def _user(args: argparse.Namespace, settings: Settings) -> None:
    from app import users
    from app.admin import open_database, scope_flags, scope_text
    from app.audit import run_audited
    from app.groups import names_of_scope, scope_of_names
    from app.models import User
    from app.scopes import scope_from_json

    needs_password = args.action == "set-password" or (args.action == "create" and not args.no_password)
    password = _read_password(args) if needs_password else None
    database = open_database(settings, create=args.action == "create" and args.create)
    try:
        if args.action == "create":
            names = scope_flags(args)
            summary = {
                "username": args.username,
                "role": args.role,
                "password": "(set)" if password else None,
                "groups": args.group or None,
                "servers": args.server or None,
            }
            summary = {field: value for field, value in summary.items() if value is not None}
            user = run_audited(
                database,
                "user.create",
                "user",
                lambda: users.create_user(
                    args.username,
                    args.role,
                    password,
                    args.display_name or "",
                    args.email,
                    scope_of_names(names) if names is not None else None,
                ),
                lambda made: str(made.id),
                summary,
            )
            print(f"user {user.username} ({user.role}) created: {user.id}")
        elif args.action == "list":
            listed = database.call(
                lambda: [(user, names_of_scope(scope_from_json(user.scope))) for user in users.list_users()]
            )
            for user, scope in listed:
                state = f"disabled {user.disabled_at:%Y-%m-%d %H:%M}" if user.disabled_at else "enabled"
                limited = scope_text(scope)
                print(
                    f"{user.id}  {user.username:<20}  {user.role:<8}  {state:<24}  {limited:<24}  {user.display_name}"
                )
        elif args.action == "scope":
            names = scope_flags(args)
            if names is None and not args.unlimited:
                raise ConfigurationError("user scope: give --group and/or --server, or --unlimited")

            def rescope() -> User:
                scope = scope_of_names(names) if names is not None else None
                return users.update_user(args.username, users.UserChanges(scope=scope, scope_set=True))

            given = {"username": args.username, "groups": args.group, "servers": args.server}
            user = run_audited(database, "user.update", "user", rescope, lambda changed: str(changed.id), given)
            shown = database.call(lambda: scope_text(names_of_scope(scope_from_json(user.scope))))
            print(f"user {user.username} limited to: {shown}")
        elif args.action == "set-password":
            assert password is not None
            user = run_audited(
                database,
                "user.set_password",
                "user",
                lambda: users.set_password(args.username, password),
                lambda changed: str(changed.id),
                {"username": args.username, "password": "(changed)"},
            )
            print(f"password of {user.username} set; their browser sessions are ended")
        else:
            changes = users.UserChanges(disabled=args.action == "disable")
            user = run_audited(
                database,
                f"user.{args.action}",
                "user",
                lambda: users.update_user(args.username, changes),
                lambda changed: str(changed.id),
                {"username": args.username},
            )
            effect = "their keys stop working" if args.action == "disable" else "their keys work again"
            print(f"user {user.username} {args.action}d: {effect}")
    finally:
        database.close()


def _settings(args: argparse.Namespace, settings: Settings) -> None:
    from app import runtime_settings as rs
    from app.admin import open_database
    from app.audit import cli_entry, run_audited

    # Checked before the database is opened: a typo is a message, not a refused row.
    values = {}
    if args.action == "set":
        values = {args.name: rs.changeable(args.name).from_text(args.value)}
    elif args.action == "reset":
        values = {rs.changeable(args.name).name: None}
    database = open_database(settings)
    try:
        if args.action == "list":
            for item in rs.show(settings, database.call(rs.load_stored)):
                since = f"  (since {item.changed_at:%Y-%m-%d %H:%M} by {item.changed_by})" if item.changed_at else ""
                base = f"; {item.environment_source}: {item.environment_value}" if item.source == "runtime" else ""
                print(f"{item.name:<22} {item.value!s:<10} {item.source}{base}{since}")
            return
        actor = cli_entry("settings.change", "success").actor
        # The row's summary is old -> new, known only inside the transaction: run_audited writes it from there.
        summary: dict[str, object] = {name: {"new": value} for name, value in values.items()}

        def apply() -> list[rs.Change]:
            changes = rs.apply_changes(settings, values, actor)
            summary.update(rs.audit_summary(changes))
            return changes

        done = run_audited(database, "settings.change", "settings", apply, lambda _: None, summary)
        for change in done:
            print(f"{change.name}: {change.old} -> {change.new} (every process within about two seconds)")
    finally:
        database.close()


def _import_inventory(args: argparse.Namespace, settings: Settings) -> int:
    from app.admin import open_database
    from app.audit import cli_entry, record
    from app.inventories.cli import import_file
    from app.keycheck import verify_key
    from app.vault import Vault

    database = open_database(settings, create=args.create)
    try:
        # It stores secrets: with a key that is not the deployment's, it stops here rather than store unreadable ones.
        vault = Vault.from_settings(settings)
        database.call(verify_key, vault)
        summary = {"file": args.file, "format": args.format, "dry_run": args.dry_run}
        try:
            code = import_file(database, vault, settings.key_dir, args.file, args.format, args.dry_run)
        except NewRemoraError:
            database.call(record, cli_entry("inventory.import", "refused", object_type="inventory", summary=summary))
            raise
        # After the import's own transaction (it prints as it goes): skipped hosts are in its exit code, 1.
        database.call(record, cli_entry("inventory.import", "success", object_type="inventory", summary=summary))
        return code
    finally:
        database.close()


def _audit(args: argparse.Namespace, settings: Settings) -> None:
    from app.admin import open_database
    from app.audit import AuditFilter, export_lines

    database = open_database(settings)
    try:
        export_lines(database, AuditFilter(since=args.since, until=args.until), sys.stdout)
    finally:
        database.close()


def _prune(args: argparse.Namespace, settings: Settings) -> None:
    from app import retention
    from app.admin import open_database
    from app.audit import cli_entry, record
    from app.runtime_settings import LiveSettings

    database = open_database(settings)
    try:
        # The retentions in effect for the service: its environment's, or an administrator's runtime values.
        live = LiveSettings(settings)
        database.call(live.refresh)

        def days_of(setting: str) -> int:
            return int(live.value(setting))

        if args.dry_run:
            print("dry run: nothing is deleted")
            swept = retention.survey(database, days_of)
        else:
            swept = retention.prune(database, days_of)
            summary = {item.kind: item.count for item in swept}
            database.call(record, cli_entry("retention.prune", "success", object_type="retention", summary=summary))
        for line in retention.report(swept, dry_run=args.dry_run):
            print(line)
    finally:
        database.close()


def _utc_time(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time like 2026-01-31T12:00:00Z, got {raw!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    from app.admin import add_scope_flags

    parser = argparse.ArgumentParser(
        prog="newremora", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API (settings from NEWREMORA_* variables)")
    serve.add_argument("--no-workers", action="store_true", help="API only: jobs run in `newremora worker`s")
    worker = commands.add_parser("worker", help="run jobs only (no HTTP), beside API nodes on PostgreSQL")
    worker.add_argument("--threads", type=int, help="worker threads (default: NEWREMORA_WORKERS)")
    worker.add_argument("--batch-size", type=int, help="jobs per Ansible run (default: NEWREMORA_BATCH_SIZE)")
    health = commands.add_parser("health", help="exit 0 if the database answers (for health checks)")
    health.add_argument("--worker", action="store_true", help="also require a live worker process on this host")
    commands.add_parser("migrate", help="apply pending database migrations")
    token = commands.add_parser("token", help="manage API keys (once one exists, /api/v1 requires a key)")
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--user", help="the owner (username or id); without: an administrator key of no user")
    create.add_argument("--role", type=_role, help="narrower than the owner's role (default: the owner's)")
    create.add_argument("--expires", type=_expiry, help="expiry, e.g. 2027-01-01 or 2027-01-01T12:00:00Z")
    create.add_argument("--create", action="store_true", help=CREATE_HELP)
    add_scope_flags(create)
    actions.add_parser("list", help="list keys (never the keys themselves)")
    actions.add_parser("revoke", help="revoke a key").add_argument("key", help="id or prefix shown by list")
    user = commands.add_parser("user", help="manage users (passwords from a prompt or --password-file)")
    user_actions = user.add_subparsers(dest="action", required=True)
    user_create = user_actions.add_parser("create", help="create a user (--role admin: the first administrator)")
    user_create.add_argument("username")
    user_create.add_argument("--role", type=_role, required=True, help="viewer, operator or admin")
    user_create.add_argument("--display-name")
    user_create.add_argument("--email")
    user_create.add_argument("--no-password", action="store_true", help="no password: the user uses API keys")
    user_create.add_argument("--password-file", help=FROM_FILE_HELP)
    user_create.add_argument("--create", action="store_true", help=CREATE_HELP)
    add_scope_flags(user_create)
    user_scope = user_actions.add_parser("scope", help="limit a user (and their keys) to groups and servers")
    user_scope.add_argument("username")
    add_scope_flags(user_scope, unlimited=True)
    user_actions.add_parser("list", help="list users")
    for action in ("disable", "enable"):
        user_actions.add_parser(action, help=f"{action} a user and their keys").add_argument("username")
    set_password = user_actions.add_parser("set-password", help="set a user's password")
    set_password.add_argument("username")
    set_password.add_argument("--password-file", help=FROM_FILE_HELP)
    runtime = commands.add_parser("settings", help="settings that may change while the service runs (audited)")
    runtime_actions = runtime.add_subparsers(dest="action", required=True)
    runtime_actions.add_parser("list", help="each setting: its value, where it comes from, who changed it")
    set_one = runtime_actions.add_parser("set", help="change a setting in every process, without a restart")
    set_one.add_argument("name")
    set_one.add_argument("value")
    runtime_actions.add_parser("reset", help="back to the environment's value").add_argument("name")
    inventory = commands.add_parser("import-inventory", help="import an Ansible inventory (INI or YAML) file")
    inventory.add_argument("file", help="the inventory file ('-' for standard input)")
    inventory.add_argument("--format", choices=["auto", "ini", "yaml"], default="auto")
    inventory.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    inventory.add_argument("--create", action="store_true", help=CREATE_HELP)
    audit = commands.add_parser("audit", help="the audit trail (docs/audit.md)")
    export = audit.add_subparsers(dest="action", required=True).add_parser(
        "export", help="print the audit rows as JSON lines, oldest first"
    )
    export.add_argument("--since", type=_utc_time, help="rows at or after this time (ISO 8601; no zone: UTC)")
    export.add_argument("--until", type=_utc_time, help="rows before this time (ISO 8601; no zone: UTC)")
    prune = commands.add_parser(
        "prune", help="delete what the retention settings no longer keep (docs/orchestration.md)"
    )
    prune.add_argument("--dry-run", action="store_true", help="say what would go, per kind; delete nothing")
    add_client_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv, remote_command = split_remote_command(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command in CLIENT_COMMANDS:
        if remote_command is not None:
            args.words = [*args.words, *remote_command]
        return run_client_command(args)
    try:
        private_umask()  # before anything is created: the database, its WAL files, run directories, the key file
        settings = Settings.from_env()
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "serve":
            asyncio.run(_serve(settings.replace(workers=0) if args.no_workers else settings))
        elif args.command == "worker":
            overrides = {"workers": args.threads, "batch_size": args.batch_size}
            _worker(settings.replace(**{k: v for k, v in overrides.items() if v is not None}))
        elif args.command == "health":
            return _health(settings, args.worker)
        elif args.command == "migrate":
            _migrate(settings)
        elif args.command == "token":
            _token(args, settings)
        elif args.command == "user":
            _user(args, settings)
        elif args.command == "settings":
            _settings(args, settings)
        elif args.command == "import-inventory":
            return _import_inventory(args, settings)
        elif args.command == "audit":
            _audit(args, settings)
        elif args.command == "prune":
            _prune(args, settings)
    except NewRemoraError as exc:
        cause = f" ({str(exc.__cause__).splitlines()[0]})" if isinstance(exc, DatabaseUnavailable) else ""
        print(f"newremora: {exc}{cause}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
