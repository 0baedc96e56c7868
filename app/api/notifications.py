"""``/api/v1/notification-targets``: outgoing webhooks on job and batch events (administrators: they send data out
of the service), their deliveries and a test event."""

from __future__ import annotations

from typing import cast

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from app.api.context import current_principal, runtime
from app.models import NotificationTarget
from app.notifications import outbox, targets
from app.schemas.common import Envelope
from app.schemas.notifications import (
    AttemptOut,
    DeliveryList,
    DeliveryOut,
    DeliveryQuery,
    DeliveryState,
    NewTargetOut,
    TargetCreate,
    TargetDeleted,
    TargetList,
    TargetOut,
    TargetUpdate,
)

blueprint = Blueprint("notifications", __name__)
TAGS = ["Notifications"]


def target_out(target: NotificationTarget) -> TargetOut:
    return TargetOut(
        id=target.id,
        name=target.name,
        url=target.url,
        events=targets.events_of(target),
        template_id=target.template_id,
        format=target.format,
        enabled=target.enabled,
        created_at=target.created_at,
        created_by=target.created_by,
        updated_at=target.updated_at,
    )


def delivery_out(delivery: outbox.Delivery) -> DeliveryOut:
    n = delivery.notification
    return DeliveryOut(
        id=n.id,
        event=n.event,
        subject_id=n.subject_id,
        idempotency_key=n.idempotency_key,
        state=cast(DeliveryState, n.state),
        attempts=n.attempts,
        next_attempt_at=n.next_attempt_at,
        created_at=n.created_at,
        delivered_at=n.delivered_at,
        attempt_log=[
            AttemptOut(number=a.number, at=a.at, duration_ms=a.duration_ms, status=a.status, error=a.error)
            for a in delivery.attempts
        ],
    )


@blueprint.get("")
@tag(TAGS)
@validate_response(Envelope[TargetList])
async def list_targets() -> Envelope[TargetList]:
    """List notification targets.

    Every target, by name; never a signing secret."""
    found = await runtime().database.run(targets.list_targets)
    return Envelope(data=TargetList(targets=[target_out(t) for t in found]))


@blueprint.post("")
@tag(TAGS)
@validate_request(TargetCreate)
@validate_response(Envelope[NewTargetOut], 201)
async def create_target(data: TargetCreate) -> tuple[Envelope[NewTargetOut], int]:
    """Create a notification target.

    Events it names are POSTed to its URL from the outbox, signed with HMAC-SHA256 (X-NewRemora-Signature-256).
    The signing secret (given, or random) is in this answer only. 409: the name is taken; 400: no such
    template."""
    rt = runtime()
    fields = data.model_dump(exclude={"secret"})
    created = await rt.database.run(targets.create_target, rt.vault, fields, data.secret, current_principal().actor)
    shown = target_out(created.target)
    return Envelope(data=NewTargetOut(**shown.model_dump(), secret=created.secret)), 201


@blueprint.get("/<target_id>")
@tag(TAGS)
@validate_response(Envelope[TargetOut])
async def get_target(target_id: str) -> Envelope[TargetOut]:
    """One notification target.

    Never its signing secret."""
    return Envelope(data=target_out(await runtime().database.run(targets.get_target, target_id)))


@blueprint.patch("/<target_id>")
@tag(TAGS)
@validate_request(TargetUpdate)
@validate_response(Envelope[TargetOut])
async def update_target(target_id: str, data: TargetUpdate) -> Envelope[TargetOut]:
    """Change a notification target.

    Only the fields given change (enable or disable it with ``enabled``). A disabled target gets no new events and
    its pending ones wait until it is enabled again."""
    rt = runtime()
    fields = data.model_dump(include=data.model_fields_set)
    updated = await rt.database.run(targets.update_target, rt.vault, target_id, fields)
    return Envelope(data=target_out(updated))


@blueprint.delete("/<target_id>")
@tag(TAGS)
@validate_response(Envelope[TargetDeleted])
async def delete_target(target_id: str) -> Envelope[TargetDeleted]:
    """Delete a notification target.

    Its deliveries go with it; pending ones are never sent."""
    deleted = await runtime().database.run(targets.delete_target, target_id)
    return Envelope(data=TargetDeleted(id=deleted, deleted=True))


@blueprint.get("/<target_id>/deliveries")
@tag(TAGS)
@validate_querystring(DeliveryQuery)
@validate_response(Envelope[DeliveryList])
async def list_deliveries(target_id: str, query_args: DeliveryQuery) -> Envelope[DeliveryList]:
    """A target's deliveries.

    Newest first, each with its state (pending, delivered, dead), its idempotency key and every attempt: when,
    how long, the receiver's HTTP status or the error."""
    found = await runtime().database.run(outbox.list_deliveries, target_id, query_args.limit)
    return Envelope(data=DeliveryList(deliveries=[delivery_out(d) for d in found]))


@blueprint.post("/<target_id>/test")
@tag(TAGS)
@validate_response(Envelope[DeliveryOut], 202)
async def test_target(target_id: str) -> tuple[Envelope[DeliveryOut], int]:
    """Send a test event.

    Queues one ``test`` event for this target (whatever its events), delivered like any other: follow it in the
    target's deliveries. A disabled target keeps it pending until it is enabled."""
    rt = runtime()
    queued = await rt.database.run(outbox.queue_test, target_id)
    if rt.deliverer is not None:
        rt.deliverer.wake()
    return Envelope(data=delivery_out(outbox.Delivery(queued, []))), 202
