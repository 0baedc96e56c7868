"""``/api/v1/templates/:id/triggers`` and ``/api/v1/triggers/:id``: a template's signed triggers (app/triggers.py).
The receiver of their requests is app/api/hooks.py, outside /api/v1."""

from __future__ import annotations

from typing import Any, Final

from quart import Blueprint, request
from quart_schema import tag, validate_request, validate_response

from app import launch_owner, triggers
from app.api.context import current_principal, runtime, visible_servers
from app.models import Trigger
from app.schemas.common import Envelope
from app.schemas.triggers import NewTriggerOut, TriggerCreate, TriggerDeleted, TriggerList, TriggerOut, TriggerUpdate

blueprint = Blueprint("triggers", __name__)
TAG: Final = ["triggers"]
HOOK_PATH: Final = "/hooks/"


def trigger_fields(trigger: Trigger) -> dict[str, Any]:
    path = HOOK_PATH + str(trigger.id)
    return {
        "id": str(trigger.id),
        "template_id": str(trigger.template_id),
        "name": trigger.name,
        "enabled": bool(trigger.enabled),
        "mapping": triggers.mapping_of(trigger),
        "rate_limit": int(trigger.rate_limit),
        "path": path,
        "url": request.host_url.rstrip("/") + path,
        "created_at": trigger.created_at,
        "created_by": trigger.created_by,
        "rotated_at": trigger.rotated_at,
        "last_used_at": trigger.last_used_at,
    }


def _with_secret(made: triggers.NewSecret) -> NewTriggerOut:
    return NewTriggerOut.model_validate({**trigger_fields(made.trigger), "secret": made.secret})


@blueprint.get("/templates/<template_id>/triggers")
@tag(TAG)
@validate_response(Envelope[TriggerList])
async def list_triggers(template_id: str) -> Envelope[TriggerList]:
    """List a template's triggers.

    Oldest first, never their secrets. The template by id or name; out of the caller's scope it is not found
    (404), as its triggers are."""
    visible = await visible_servers()
    found = await runtime().database.run(triggers.list_triggers, template_id, visible)
    return Envelope(data=TriggerList(triggers=[TriggerOut.model_validate(trigger_fields(one)) for one in found]))


@blueprint.post("/templates/<template_id>/triggers")
@tag(TAG)
@validate_request(TriggerCreate)
@validate_response(Envelope[NewTriggerOut], 201)
async def create_trigger(template_id: str, data: TriggerCreate) -> tuple[Envelope[NewTriggerOut], int]:
    """Create a trigger: a URL that launches the template when a request signed with its secret arrives.

    The secret is in this answer only: keep it. ``mapping`` names, per parameter, the body field it takes (400
    for a parameter the template does not have). Its deliveries launch within the creator's scope as it is then
    (403 while a target is outside it or the creator is disabled). How to sign: docs/orchestration.md, "Signed
    triggers"."""
    rt = runtime()
    visible = await visible_servers()
    actor = current_principal().actor  # here: the database thread has no request context
    principal = current_principal()
    made = await rt.database.run(
        lambda: triggers.create_trigger(
            template_id,
            name=data.name,
            enabled=data.enabled,
            mapping=data.mapping,
            rate_limit=data.rate_limit,
            vault=rt.vault,
            actor=actor,
            visible=visible,
            grant=launch_owner.grant_of(principal),
        )
    )
    return Envelope(data=_with_secret(made)), 201


@blueprint.patch("/triggers/<trigger_id>")
@tag(TAG)
@validate_request(TriggerUpdate)
@validate_response(Envelope[TriggerOut])
async def update_trigger(trigger_id: str, data: TriggerUpdate) -> Envelope[TriggerOut]:
    """Change a trigger: enable or disable it, its name, mapping or rate limit.

    Only the fields given change; a disabled trigger refuses every request (403) until enabled again. The caller
    owns it from now on: its deliveries launch within the caller's scope."""
    changes = data.model_dump(include=data.model_fields_set)
    visible, principal = await visible_servers(), current_principal()
    updated = await runtime().database.run(
        lambda: triggers.update_trigger(trigger_id, changes, visible, launch_owner.grant_of(principal))
    )
    return Envelope(data=TriggerOut.model_validate(trigger_fields(updated)))


@blueprint.delete("/triggers/<trigger_id>")
@tag(TAG)
@validate_response(Envelope[TriggerDeleted])
async def delete_trigger(trigger_id: str) -> Envelope[TriggerDeleted]:
    """Delete a trigger.

    Its URL refuses every request from now on (401, as for a URL that never existed); the jobs it launched stay."""
    visible = await visible_servers()
    deleted = await runtime().database.run(triggers.delete_trigger, trigger_id, visible)
    return Envelope(data=TriggerDeleted(id=str(deleted.id), deleted=True))


@blueprint.post("/triggers/<trigger_id>/rotate")
@tag(TAG)
@validate_response(Envelope[NewTriggerOut])
async def rotate_trigger(trigger_id: str) -> Envelope[NewTriggerOut]:
    """Rotate a trigger's secret.

    The new secret is in this answer only; the old one is refused from the next request on, by every process. The
    caller owns it from now on: its deliveries launch within the caller's scope."""
    rt, principal = runtime(), current_principal()
    visible = await visible_servers()
    made = await rt.database.run(
        lambda: triggers.rotate_secret(trigger_id, rt.vault, visible, launch_owner.grant_of(principal))
    )
    return Envelope(data=_with_secret(made))
