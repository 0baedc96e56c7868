"""Notification targets: where events go, signed with a secret of their own. Runs in a database thread."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from app.clock import utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.models import JobTemplate, NotificationTarget
from app.servers import parse_id
from app.vault import Vault

SECRET_BYTES: Final = 32
EDITABLE: Final = ("name", "url", "events", "template_id", "format", "enabled")


@dataclass(frozen=True)
class NewTarget:
    target: NotificationTarget
    secret: str  # shown once, in the answer that created it


def events_of(target: NotificationTarget) -> list[str]:
    found: list[str] = json.loads(target.events)
    return found


def get_target(target_id: str) -> NotificationTarget:
    target = NotificationTarget.get_or_none(NotificationTarget.id == parse_id(target_id, "Notification target"))
    if target is None:
        raise NotFound("Notification target not found")
    return target


def list_targets() -> list[NotificationTarget]:
    return list(NotificationTarget.select().order_by(NotificationTarget.name))


def _check(fields: Mapping[str, Any], other_than: str | None = None) -> None:
    if "name" in fields:
        taken = NotificationTarget.select().where(NotificationTarget.name == fields["name"])
        if other_than is not None:
            taken = taken.where(NotificationTarget.id != other_than)
        if taken.exists():
            raise Conflict(f"a notification target named {fields['name']!r} exists")
    template_id = fields.get("template_id")
    if template_id is not None and JobTemplate.get_or_none(JobTemplate.id == template_id) is None:
        raise InvalidInput("template_id: no such template")


def _stored(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {name: json.dumps(list(value)) if name == "events" else value for name, value in fields.items()}


def create_target(vault: Vault, fields: Mapping[str, Any], secret: str | None, actor: str) -> NewTarget:
    """``fields``: EDITABLE's; ``secret`` given, or a random one."""
    with NotificationTarget._meta.database.atomic():
        _check(fields)
        chosen = secret if secret is not None else secrets.token_urlsafe(SECRET_BYTES)
        target = NotificationTarget.create(
            **_stored({name: fields[name] for name in EDITABLE if name in fields}),
            secret_enc=vault.encrypt(chosen),
            created_by=actor,
        )
    return NewTarget(target, chosen)


def update_target(vault: Vault, target_id: str, fields: Mapping[str, Any]) -> NotificationTarget:
    """Only the fields given change; ``secret`` replaces the signing secret (events already queued are signed
    with the new one when they are sent)."""
    with NotificationTarget._meta.database.atomic():
        target = get_target(target_id)
        _check(fields, other_than=target.id)
        for name, value in _stored({n: fields[n] for n in EDITABLE if n in fields}).items():
            setattr(target, name, value)
        if fields.get("secret") is not None:
            target.secret_enc = vault.encrypt(str(fields["secret"]))
        target.updated_at = utcnow()
        target.save()
    return target


def delete_target(target_id: str) -> str:
    """The target and its deliveries (pending ones are not sent)."""
    with NotificationTarget._meta.database.atomic():
        target = get_target(target_id)
        target.delete_instance()  # the outbox's rows and their attempts go with it (ON DELETE CASCADE)
    return str(target.id)
