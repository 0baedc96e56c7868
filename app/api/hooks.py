"""``POST /hooks/:trigger_id``: the receiver of signed triggers (outside /api/v1: no API key, the signature is the
credential; docs/orchestration.md, "Signed triggers").

In order: the body's size; the signature over ``"{timestamp}." + body`` with the trigger's secret (a missing,
malformed or wrong one, and an unknown trigger, get the same 401, which says nothing of which it was); the
timestamp within 300 s; the trigger enabled; the body a JSON object; then one transaction (app/triggers.py
``deliver``) refuses a replay (409), a request over the trigger's rate limit (429 + Retry-After) and a bad value
(422), or launches the template once. Every answer leaves one audit row, actor ``trigger:<id>``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any, Final

from quart import Blueprint, Response, jsonify, request
from quart_schema import document_headers, document_request, document_response, tag

from app import audit, triggers
from app.api.context import runtime
from app.api.decoding import decode_json_body
from app.api.errors import error_response
from app.api.triggers import TAG
from app.errors import (
    Conflict,
    DatabaseUnavailable,
    InvalidInput,
    NotFound,
    SecretUnreadable,
    TooManyRequests,
    UnsupportedMediaType,
)
from app.launch_owner import OutOfScope, OwnerDisabled
from app.logs import request_id_var
from app.schemas.common import Envelope, ErrorEnvelope
from app.schemas.triggers import HookBody, HookHeaders, HookLaunched
from app.templates import Launched
from app.trigger_signatures import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOLERANCE_S,
    presented,
    replay_key,
    signature_valid,
    timestamp_fresh,
)

log = logging.getLogger(__name__)
blueprint = Blueprint("hooks", __name__)
ACTION: Final = "trigger.launch"
# The one answer to a request that cannot be verified, whatever the reason: nothing to learn from it.
NOT_VERIFIED: Final = (
    f"Signature missing or invalid: send {SIGNATURE_HEADER}: sha256=<HMAC-SHA256 hex of "
    f'"<timestamp>.<body>"> and {TIMESTAMP_HEADER}: <unix seconds>'
)
STALE: Final = f"{TIMESTAMP_HEADER} is more than {TOLERANCE_S} s away from this service's clock (or replayed late)"
OWNER_DISABLED: Final = "This trigger's owner is disabled: an enabled user must save it again (PATCH)"
OUT_OF_SCOPE: Final = "A target of this trigger's template is outside its owner's scope: nothing was launched"
_SANE_ID: Final = re.compile(r"^[A-Za-z0-9-]{1,36}$")


def _label(trigger_id: str) -> str:
    # The path is the sender's text: only what looks like an id reaches the audit row.
    return trigger_id if _SANE_ID.fullmatch(trigger_id) else "invalid"


async def _audit(trigger_id: str, status: int, summary: dict[str, Any]) -> None:
    label = _label(trigger_id)
    entry = audit.Entry(
        actor=triggers.submitter(label),
        actor_kind="trigger",
        action=ACTION,
        outcome=audit.outcome_of(status),
        object_type="trigger",
        object_id=label,
        summary=summary,
        source=request.remote_addr,
        request_id=request_id_var.get(),
        status=status,
    )
    try:
        await runtime().database.run(audit.record, entry)
    except DatabaseUnavailable:
        log.debug("audit row not written (database unavailable): %s of trigger %s", ACTION, label)
    except Exception:
        log.error("audit row not written: %s of trigger %s", ACTION, label, exc_info=True)


async def _refuse(
    trigger_id: str, status: int, message: str, reason: str, headers: dict[str, str] | None = None
) -> Response:
    await _audit(trigger_id, status, {"reason": reason})
    return error_response(status, message, headers)


def _body(raw: bytes) -> Mapping[str, object]:
    if not raw.strip():
        return {}
    decoded = decode_json_body(raw, request.mimetype_params.get("charset"))
    if not isinstance(decoded, dict):
        raise InvalidInput("request body: must be a JSON object (or empty)")
    return decoded


def _launched(trigger_id: str, launched: Launched) -> HookLaunched:
    return HookLaunched(
        trigger_id=trigger_id,
        template_id=launched.template_id,
        template_version=launched.version,
        job_ids=[str(job.id) for job in launched.jobs],
        batch_id=launched.batch_id,
    )


@blueprint.post("/<trigger_id>")
@tag(TAG)
@document_request(HookBody)
@document_headers(HookHeaders)
@document_response(Envelope[HookLaunched], 201)
@document_response(ErrorEnvelope, 400)
@document_response(ErrorEnvelope, 401)
@document_response(ErrorEnvelope, 403)
@document_response(ErrorEnvelope, 404)
@document_response(ErrorEnvelope, 409)
@document_response(ErrorEnvelope, 413)
@document_response(ErrorEnvelope, 415)
@document_response(ErrorEnvelope, 422)
@document_response(ErrorEnvelope, 429)
async def receive(trigger_id: str) -> Response:
    """Launch a trigger's template: a request signed with the trigger's secret.

    No API key: send ``X-Hub-Signature-256: sha256=<hex>``, the HMAC-SHA256 with the secret as key of
    ``"<timestamp>.<raw body>"``, and ``X-NewRemora-Timestamp: <unix seconds>`` (within 300 s of the service's
    clock); optionally ``X-NewRemora-Delivery: <id>``, the same for a retry of one delivery. The body: a JSON object
    (or empty) whose fields map to the template's parameters. 201: launched, once. 401: signature missing or
    invalid, or no such trigger (alike), or a stale timestamp; 403: the trigger is disabled; 409: a replay (the same
    signature or delivery id again); 422: a bad value (named); 429: over the trigger's rate limit (Retry-After);
    403 too when the trigger's owner is disabled, or a target of the template is outside the owner's scope now;
    413: a body over NEWREMORA_TRIGGER_MAX_BODY_BYTES."""
    rt = runtime()
    limit = min(rt.settings.trigger_max_body_bytes, rt.settings.max_body_bytes)
    if request.content_length is not None and request.content_length > limit:
        return await _refuse(trigger_id, 413, f"Request body too large: {limit} bytes at most", "body too large")
    raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    if len(raw) > limit:
        return await _refuse(trigger_id, 413, f"Request body too large: {limit} bytes at most", "body too large")
    headers = request.headers
    given = presented(headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER), headers.get(DELIVERY_HEADER))
    try:
        known = await rt.database.run(triggers.known_trigger, trigger_id, rt.vault)
    except SecretUnreadable:
        log.error("trigger %s: its secret cannot be decrypted with this process's key", _label(trigger_id))
        known = None
    valid = signature_valid(known.secret if known is not None else None, given, raw)
    if not valid or known is None or given.timestamp is None or given.signature is None:
        return await _refuse(trigger_id, 401, NOT_VERIFIED, "signature missing or invalid, or no such trigger")
    if not timestamp_fresh(given.timestamp, time.time()):
        return await _refuse(trigger_id, 401, STALE, "stale timestamp")
    if not known.enabled:
        return await _refuse(trigger_id, 403, "This trigger is disabled", "disabled")
    try:
        body = _body(raw)
    except UnsupportedMediaType as error:
        return await _refuse(trigger_id, 415, error.message, "body not UTF-8")
    except InvalidInput as error:
        return await _refuse(trigger_id, 400, error.message, "body not a JSON object")
    delivery = triggers.Delivery(
        trigger_id=known.trigger_id,
        signature_digest=replay_key(known.trigger_id, "signature", given.signature),
        delivery_digest=replay_key(known.trigger_id, "delivery", given.delivery) if given.delivery else None,
        timestamp=int(given.timestamp),
        body=body,
    )
    try:
        launched = await rt.database.run(
            triggers.deliver, delivery, vault=rt.vault, max_timeout=rt.live_settings.max_job_timeout
        )
    except Conflict as error:
        return await _refuse(trigger_id, 409, error.message, "replayed")
    except TooManyRequests as error:
        retry = {"Retry-After": str(error.retry_after)}
        return await _refuse(trigger_id, 429, error.message, "rate limit", retry)
    except InvalidInput as error:
        return await _refuse(trigger_id, 422, error.message, "bad value")
    except NotFound as error:
        return await _refuse(trigger_id, 404, error.message, "not found")
    except OwnerDisabled:
        return await _refuse(trigger_id, 403, OWNER_DISABLED, "owner disabled")
    except OutOfScope as error:
        # The sender is no principal of this service: it learns that, not which servers (the audit row names them).
        return await _refuse(trigger_id, 403, OUT_OF_SCOPE, f"outside the owner's scope: {', '.join(error.servers)}")
    rt.wake_workers()
    answer = _launched(known.trigger_id, launched)
    summary: dict[str, Any] = {
        "template_id": answer.template_id,
        "template_version": answer.template_version,
        "jobs": len(answer.job_ids),
        "job_id": answer.job_ids[0] if len(answer.job_ids) == 1 else None,
        "batch_id": answer.batch_id,
        "delivery_id": given.delivery,
    }
    await _audit(trigger_id, 201, summary)
    response = jsonify(Envelope(data=answer).model_dump(mode="json"))
    response.status_code = 201
    return response
