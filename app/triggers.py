"""Signed triggers: a template's webhooks, and the delivery of a signed request as a launch (docs/orchestration.md,
"Signed triggers"). Functions run in a database thread.

A trigger's secret is made here, encrypted with the vault, and handed back once (``NewSecret``: on create and on
rotate). A delivery is accepted in one transaction that takes the trigger's row first (an UPDATE of its
``last_used_at``: PostgreSQL's row lock, SQLite's write lock), so that the replay store's UNIQUE digests, the rate
limit's count and the launch agree however many processes receive requests at once; a refusal (replayed, over
the limit, a bad value) rolls it all back and launches nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import peewee as pw

from app.clock import utcnow
from app.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from app.launch_owner import Grant, check_in_scope, visible_at_fire
from app.models import Trigger, TriggerDelivery
from app.scopes import Visible
from app.template_params import Parameter
from app.templates import Launched, definition_of, get_template, launch_template, parameters_of
from app.trigger_mapping import values_from_body
from app.trigger_signatures import TOLERANCE_S, new_secret
from app.vault import Vault

RATE_WINDOW: Final = timedelta(minutes=1)
DEFAULT_RATE_LIMIT: Final = 10
REPLAYED: Final = "this request was received already (a replay): it launched once, and only once"
_SUBMITTER: Final = "trigger:"


def submitter(trigger_id: str) -> str:
    """Who a trigger's launches are submitted by, and who its audit rows name."""
    return _SUBMITTER + trigger_id


@dataclass(frozen=True)
class NewSecret:
    """A trigger with its secret in clear: only in the answer to create and rotate."""

    trigger: Trigger
    secret: str


def mapping_of(trigger: Trigger) -> dict[str, str]:
    loaded: dict[str, str] = json.loads(trigger.mapping or "{}")
    return loaded


def _parameters(template_id: str) -> list[Parameter]:
    return parameters_of(definition_of(get_template(template_id)))


def _check_mapping(mapping: Mapping[str, str], parameters: list[Parameter]) -> None:
    names = {one.name for one in parameters}
    for name in mapping:
        if name not in names:
            raise InvalidInput(f"mapping.{name}: the template has no such parameter")


def list_triggers(template_id: str, visible: Visible = None) -> list[Trigger]:
    template = get_template(template_id, visible)
    return list(Trigger.select().where(Trigger.template == template.id).order_by(Trigger.created_at, Trigger.id))


def create_trigger(
    template_id: str,
    *,
    name: str,
    enabled: bool,
    mapping: Mapping[str, str],
    rate_limit: int,
    vault: Vault,
    actor: str,
    visible: Visible = None,
    grant: Grant | None = None,
) -> NewSecret:
    """``grant``: who saves it (app/launch_owner.py); each delivery launches within its scope then."""
    saved_by = grant or Grant(None, None)
    with Trigger._meta.database.atomic():
        template = get_template(template_id, visible)
        _check_mapping(mapping, parameters_of(definition_of(template)))
        secret = new_secret()
        trigger = Trigger.create(
            template=template.id,
            name=name,
            secret_enc=vault.encrypt(secret),
            enabled=enabled,
            mapping=json.dumps(dict(mapping)),
            rate_limit=rate_limit,
            created_by=actor,
            owner_user_id=saved_by.owner_user_id,
            grant_scope=saved_by.scope,
        )
    return NewSecret(trigger, secret)


def find_trigger(trigger_id: str, visible: Visible = None) -> Trigger:
    """A trigger the caller may see: its template's scope is its own (404 as missing otherwise)."""
    trigger = Trigger.get_or_none(Trigger.id == trigger_id)
    if trigger is None:
        raise NotFound("Trigger not found")
    try:
        get_template(trigger.template_id, visible)
    except NotFound:
        raise NotFound("Trigger not found") from None
    return trigger


def _own(trigger: Trigger, grant: Grant | None) -> None:
    # Whoever last saved it owns it, as for a schedule: a change never lends the caller a wider owner's scope.
    if grant is not None:
        trigger.owner_user_id, trigger.grant_scope = grant.owner_user_id, grant.scope


def update_trigger(
    trigger_id: str, changes: Mapping[str, Any], visible: Visible = None, grant: Grant | None = None
) -> Trigger:
    """Changes ``name``, ``enabled``, ``mapping`` and ``rate_limit``, those given; never the secret (rotate)."""
    with Trigger._meta.database.atomic():
        trigger = find_trigger(trigger_id, visible)
        _own(trigger, grant)
        if "mapping" in changes:
            _check_mapping(changes["mapping"], _parameters(trigger.template_id))
            trigger.mapping = json.dumps(dict(changes["mapping"]))
        for field in ("name", "enabled", "rate_limit"):
            if field in changes:
                setattr(trigger, field, changes[field])
        trigger.save()
    return trigger


def delete_trigger(trigger_id: str, visible: Visible = None) -> Trigger:
    with Trigger._meta.database.atomic():
        trigger = find_trigger(trigger_id, visible)
        trigger.delete_instance()  # its deliveries go with it (ON DELETE CASCADE)
    return trigger


def rotate_secret(trigger_id: str, vault: Vault, visible: Visible = None, grant: Grant | None = None) -> NewSecret:
    """A new secret; the old one is refused from the next request on, in every process."""
    with Trigger._meta.database.atomic():
        trigger = find_trigger(trigger_id, visible)
        _own(trigger, grant)
        secret = new_secret()
        trigger.secret_enc = vault.encrypt(secret)
        trigger.rotated_at = utcnow()
        trigger.save()
    return NewSecret(trigger, secret)


@dataclass(frozen=True)
class Known:
    """What the receiver needs to check a request before anything is written."""

    trigger_id: str
    secret: str
    enabled: bool


def known_trigger(trigger_id: str, vault: Vault) -> Known | None:
    """The trigger's secret in clear, or None for no such trigger (the receiver answers both alike)."""
    trigger = Trigger.get_or_none(Trigger.id == trigger_id[:36])
    if trigger is None:
        return None
    return Known(str(trigger.id), vault.decrypt(trigger.secret_enc), bool(trigger.enabled))


@dataclass(frozen=True)
class Delivery:
    """A request whose signature and timestamp were checked: the digests the replay store keeps, and its body."""

    trigger_id: str
    signature_digest: str
    delivery_digest: str | None
    timestamp: int  # unix seconds, as signed
    body: Mapping[str, object]


def _retry_after(times: list[datetime], limit: int, now: datetime) -> int:
    """Seconds until fewer than ``limit`` of these accepted requests (oldest first) remain in the window."""
    freed_at = times[len(times) - limit] + RATE_WINDOW
    return max(1, math.ceil((freed_at - now).total_seconds()))


def deliver(delivery: Delivery, *, vault: Vault, max_timeout: int) -> Launched:
    """Launches the trigger's template once for this request, in one transaction. Conflict: a replay (its
    signature or delivery id seen); TooManyRequests: over the trigger's limit; InvalidInput: a bad value (named);
    NotFound: the trigger was deleted or disabled meanwhile; OwnerDisabled and OutOfScope (403): its owner is
    disabled, or a target of the template is now outside the owner's scope. Each refusal writes nothing."""
    now = utcnow()
    database = Trigger._meta.database
    with database.atomic():
        # First, so that concurrent deliveries of one trigger take turns (the row lock, or SQLite's write lock).
        taken = (
            Trigger.update(last_used_at=now)
            .where((Trigger.id == delivery.trigger_id) & (Trigger.enabled == True))  # noqa: E712  # peewee's SQL
            .execute()
        )
        if not taken:
            raise NotFound("Trigger not found")
        trigger = Trigger.get_by_id(delivery.trigger_id)
        # Within its owner's scope as it is now: a server added to the template's group outside it refuses all.
        visible = visible_at_fire(Grant(trigger.owner_user_id, trigger.grant_scope))
        check_in_scope(trigger.template_id, visible)
        expires_at = max(datetime.fromtimestamp(delivery.timestamp + TOLERANCE_S, UTC), now + RATE_WINDOW)
        try:
            with database.atomic():  # a savepoint: PostgreSQL's transaction stays usable after the refusal
                TriggerDelivery.create(
                    trigger=trigger.id,
                    digest=delivery.signature_digest,
                    delivery_digest=delivery.delivery_digest,
                    received_at=now,
                    expires_at=expires_at,
                )
        except pw.IntegrityError:
            raise Conflict(REPLAYED) from None
        earlier = [
            row.received_at
            for row in TriggerDelivery.select(TriggerDelivery.received_at)
            .where(
                (TriggerDelivery.trigger == trigger.id)
                & (TriggerDelivery.received_at > now - RATE_WINDOW)
                & (TriggerDelivery.digest != delivery.signature_digest)
            )
            .order_by(TriggerDelivery.received_at)
        ]
        if len(earlier) >= trigger.rate_limit:
            wait = _retry_after(earlier, trigger.rate_limit, now)
            raise TooManyRequests(
                f"Too many requests: this trigger accepts {trigger.rate_limit} a minute; retry in {wait} seconds",
                retry_after=wait,
            )
        # What can no longer be replayed is of no use: each delivery sweeps those (an indexed range).
        TriggerDelivery.delete().where(TriggerDelivery.expires_at < now).execute()
        template = get_template(trigger.template_id)
        parameters = parameters_of(definition_of(template))
        values = values_from_body(delivery.body, [one.name for one in parameters], mapping_of(trigger))
        return launch_template(
            str(template.id),
            values,
            vault=vault,
            max_timeout=max_timeout,
            submitted_by=submitter(str(trigger.id)),
            visible=visible,
        )
