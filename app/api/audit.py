"""The audit trail over HTTP: which endpoints are audited (one line each, ``AUDITED``), the hook that appends their
row once the answer is known, and ``GET /api/v1/audit``.

The row is written right after the handler, from what the request gave (its validated model, secrets redacted by
app/audit.py's one rule) and what the answer says (the status, the created object's id): a refused or failed
request leaves its row too, and a new endpoint is audited by adding its line here (tests/integration/test_audit.py
fails for a state-changing /api/v1 route that has none).
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

from pydantic import BaseModel, ValidationError
from quart import Blueprint, Quart, Response, current_app, g, request
from quart_schema import validate_querystring, validate_response
from quart_schema.validation import QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, QUART_SCHEMA_REQUEST_ATTRIBUTE
from werkzeug.exceptions import HTTPException

from app import audit
from app.api.access import API_PREFIX, presented_key
from app.api.context import current_principal, runtime
from app.api.sessions import COOKIE as SESSION_COOKIE
from app.errors import DatabaseUnavailable, InvalidInput
from app.logs import request_id_var
from app.oidc import looks_like_jwt
from app.schemas.audit import AuditEventOut, AuditPage, AuditQuery
from app.schemas.common import Envelope

log = logging.getLogger(__name__)
blueprint = Blueprint("audit", __name__)


@dataclass(frozen=True)
class Audited:
    action: str
    object_type: str
    # The object: this view argument (``server_id``), else this field of the answer's ``data`` (a created id).
    id_arg: str | None = None
    id_field: str | None = "id"
    # Fields of the request whose keys alone are recorded, never their values (a launch's parameters, which may
    # be secret by the template's definition rather than by their names).
    names_only: tuple[str, ...] = ()


# Endpoint -> what its row says. Every state-changing /api/v1 route has a line (a test holds it so).
AUDITED: Final[dict[str, Audited]] = {
    "servers.create_server": Audited("server.create", "server"),
    "servers.update_server": Audited("server.update", "server", "server_id"),
    "servers.delete_server": Audited("server.delete", "server", "server_id"),
    "servers.forget_host_key": Audited("server.forget_host_key", "server", "server_id"),
    "servers.upload_pem": Audited("server.upload_pem", "pem_file", id_field="url"),
    "servers.test_server": Audited("server.test", "server", "server_id"),
    "servers.check_status": Audited("server.check_status", "server", id_field=None),
    "credentials.create_credential": Audited("credential.create", "credential"),
    "credentials.update_credential": Audited("credential.update", "credential", "credential_id"),
    "credentials.delete_credential": Audited("credential.delete", "credential", "credential_id"),
    "inventories.import_": Audited("inventory.import", "inventory", id_field=None),
    # One job: its id; several (server_ids, group): the batch's id, object type "batch".
    "jobs.create_job": Audited("job.submit", "job"),
    "jobs.create_script_job": Audited("job.submit", "job"),
    "jobs.create_playbook_job": Audited("job.submit", "job"),
    "jobs.cancel_job": Audited("job.cancel", "job", "job_id"),
    "jobs.duplicate_job": Audited("job.duplicate", "job", "job_id"),
    "templates.create_template": Audited("template.create", "template"),
    "templates.update_template": Audited("template.update", "template", "template_id"),
    "templates.delete_template": Audited("template.delete", "template", "template_id"),
    # The summary is the parameters' names, then (launched) their values with the secret ones redacted, which the
    # handler leaves in g.audit_summary: a refused request never records a value.
    "templates.launch_template": Audited("template.launch", "template", "template_id", names_only=("parameters",)),
    "users.create_user": Audited("user.create", "user"),
    "users.update_user": Audited("user.update", "user", "user_id"),
    # The answer holds the new key once; only its id is taken from it (the summary is the request's fields).
    "keys.create_key": Audited("key.create", "api_key"),
    "keys.revoke_key": Audited("key.revoke", "api_key", "key_id"),
    # The summary is each setting's old and new value, which the handler leaves in g.audit_summary.
    "settings.change_settings": Audited("settings.change", "settings", id_field=None),
    # The secret given shows as "(set)" (app/audit.py's rule); a random one is in no row.
    "notifications.create_target": Audited("notification_target.create", "notification_target"),
    "notifications.update_target": Audited("notification_target.update", "notification_target", "target_id"),
    "notifications.delete_target": Audited("notification_target.delete", "notification_target", "target_id"),
    "notifications.test_target": Audited("notification_target.test", "notification_target", "target_id"),
    # The summary names the parameters given, never their values (the handler leaves it in g.audit_summary).
    "schedules.create_schedule": Audited("schedule.create", "schedule"),
    "schedules.update_schedule": Audited("schedule.update", "schedule", "schedule_id"),
    "schedules.delete_schedule": Audited("schedule.delete", "schedule", "schedule_id"),
    # The answer holds the new secret once; only the trigger's id is taken from it.
    "triggers.create_trigger": Audited("trigger.create", "trigger"),
    "triggers.update_trigger": Audited("trigger.update", "trigger", "trigger_id"),
    "triggers.delete_trigger": Audited("trigger.delete", "trigger", "trigger_id"),
    "triggers.rotate_trigger": Audited("trigger.rotate", "trigger", "trigger_id"),
}
# Key prefixes as app/apikeys.py stores them (the first characters of a key): what a failed attempt may record.
KEY_PREFIX: Final = "nr_"
UNKNOWN: Final = "unknown"
KEY_PREFIX_LENGTH: Final = 10


def _validated(model: type[BaseModel], values: Any) -> dict[str, Any] | None:
    try:
        return model.model_validate(values).model_dump(mode="json", exclude_unset=True)
    except (ValidationError, ValueError, TypeError):
        return None  # refused: the row says so by its outcome; what was sent is not kept


async def _summary(declared: Audited) -> dict[str, Any] | None:
    """The fields of the request's validated body and query (quart-schema's models on the view), redacted."""
    view = current_app.view_functions.get(request.endpoint or "")
    fields: dict[str, Any] = {}
    found = False
    body_schema = getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None)
    if body_schema is not None:
        try:
            body = await request.get_json(silent=True)
        except HTTPException:
            body = None  # a body refused as such (413): nothing of it is kept
        given = _validated(body_schema[0], body) if body is not None else None
        if given is not None:
            fields.update(given)
            found = True
    query_schema = getattr(view, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, None)
    if query_schema is not None:
        given = _validated(query_schema, request.args.to_dict())
        if given:
            fields.update(given)
            found = True
    if not found:
        return None
    for name in declared.names_only:
        if isinstance(fields.get(name), dict):
            fields[name] = sorted(fields[name])
    return audit.summarize(fields, changed=request.method in ("PUT", "PATCH"))


async def _object(declared: Audited, response: Response) -> tuple[str, str | None]:
    if declared.id_arg is not None:
        return declared.object_type, (request.view_args or {}).get(declared.id_arg)
    if declared.id_field is None or response.status_code >= 300:
        return declared.object_type, None
    answer = await response.get_json(silent=True)
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict):
        return declared.object_type, None
    if declared.id_field in data:
        return declared.object_type, str(data[declared.id_field])
    if data.get("batch_id") is not None:
        return "batch", str(data["batch_id"])
    return declared.object_type, None


def _refused_credential(presented: str) -> str | None:
    """What the refused caller presented, as the row's object type: an API key, a JWT, a session cookie, or
    nothing at all (null)."""
    if presented:
        return "jwt" if looks_like_jwt(presented) else "api_key"
    return "session" if request.cookies.get(SESSION_COOKIE) else None


def _failed_authentication(status: int) -> audit.Entry:
    presented = presented_key() or ""
    # At most the prefix a key is listed by, and only of what looks like one of our keys: never the key.
    prefix = presented[:KEY_PREFIX_LENGTH] if presented.startswith(KEY_PREFIX) else None
    return audit.Entry(
        actor=UNKNOWN,
        actor_kind=UNKNOWN,
        action="auth.failed",
        outcome="refused",
        object_type=_refused_credential(presented),
        summary={"method": request.method, "path": request.path, "key_prefix": prefix, "key_given": bool(presented)},
        source=request.remote_addr,
        request_id=request_id_var.get(),
        status=status,
    )


async def _entry(response: Response) -> audit.Entry | None:
    if response.status_code == 401:
        return _failed_authentication(response.status_code)
    declared = AUDITED.get(request.endpoint or "")
    if declared is None:
        return None
    if "principal" not in g:
        # Refused before authentication (a 429 of the rate limit, a 403 of the origin guard): nobody is known, and
        # a row each would let any client grow the table as fast as it sends (a 401 comes after the rate limit).
        return None
    principal = current_principal()
    object_type, object_id = await _object(declared, response)
    return audit.Entry(
        actor=principal.actor,
        actor_kind=principal.kind,
        key_id=principal.key_id,
        user_id=principal.user_id,
        action=declared.action,
        outcome=audit.outcome_of(response.status_code),
        object_type=object_type,
        object_id=object_id,
        # A handler that knows better than the request's fields (old → new values) says so in g.audit_summary.
        summary=g.audit_summary if "audit_summary" in g else await _summary(declared),
        source=request.remote_addr,
        request_id=request_id_var.get(),
        status=response.status_code,
    )


def _named(entry: audit.Entry) -> tuple[str, str | None, str]:
    return entry.action, entry.object_id, entry.actor


def install_audit(app: Quart) -> None:
    @app.after_request
    async def record_audit(response: Response) -> Response:
        if not request.path.startswith(API_PREFIX) or request.method == "OPTIONS":
            return response
        entry = await _entry(response)
        if entry is not None:
            try:
                await runtime().database.run(audit.record, entry)
            except DatabaseUnavailable:
                if response.status_code >= HTTPStatus.BAD_REQUEST:
                    # Refused because the database is down or full (app/db.py says so once per episode): nothing
                    # changed, and a line per refused request would bury that one line.
                    log.debug("audit row not written (database unavailable): %s by %s", entry.action, entry.actor)
                else:
                    log.error("audit row not written (database unavailable): %s %s by %s", *_named(entry))
            except Exception:
                # The change is made and answered; a row that could not be written is said loudly in the log.
                log.error(
                    "audit row not written: %s %s by %s", entry.action, entry.object_id, entry.actor, exc_info=True
                )
        return response


def _cursor(before_id: int | None) -> str | None:
    return base64.urlsafe_b64encode(str(before_id).encode()).decode().rstrip("=") if before_id is not None else None


def _before_id(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        value = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor: not a cursor this service gave (pass next_cursor as it is)") from None
    if value < 1:
        raise InvalidInput("cursor: not a cursor this service gave (pass next_cursor as it is)")
    return value


@blueprint.get("")
@validate_querystring(AuditQuery)
@validate_response(Envelope[AuditPage])
async def list_audit(query_args: AuditQuery) -> Envelope[AuditPage]:
    """The audit trail, newest first, ``limit`` rows a page (at most 500); follow ``next_cursor`` for older rows.
    Rows appended meanwhile never shift a later page (no row twice, none skipped). Filters combine (AND); actor,
    action, object_type, object_id and outcome match exactly; since is inclusive, until exclusive."""
    found = audit.AuditFilter(
        actor=query_args.actor,
        action=query_args.action,
        object_type=query_args.object_type,
        object_id=query_args.object_id,
        since=query_args.since,
        until=query_args.until,
        outcome=query_args.outcome,
    )
    before_id = _before_id(query_args.cursor)

    def load() -> tuple[list[dict[str, Any]], int | None]:
        rows, next_before = audit.list_events(found, before_id, query_args.limit)
        return [audit.event_dict(row) for row in rows], next_before

    rows, next_before = await runtime().database.run(load)
    events = [AuditEventOut.model_validate(row) for row in rows]
    return Envelope(data=AuditPage(events=events, next_cursor=_cursor(next_before)))
