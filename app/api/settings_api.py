"""``/api/v1/settings``: the settings an administrator may change while the service runs (app/runtime_settings.py).

Named ``settings_api`` apart from app/settings.py, the environment's settings read once at start."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, g
from quart_schema import validate_request, validate_response

from app import runtime_settings
from app.api.context import current_principal, runtime
from app.schemas.common import Envelope
from app.schemas.settings import SettingChange, SettingOut, SettingsChanged, SettingsList, SettingsPatch

blueprint = Blueprint("settings", __name__)


def settings_out(shown: list[runtime_settings.Shown]) -> list[SettingOut]:
    result = []
    for item in shown:
        bounds = item.setting.bounds
        choices = item.setting.choices
        result.append(
            SettingOut(
                name=item.name,
                value=item.value,
                source=item.source,
                environment_value=item.environment_value,
                environment_source="default" if item.environment_source == "default" else "environment",
                changed_at=item.changed_at,
                changed_by=item.changed_by,
                description=item.setting.doc,
                effect=item.setting.effect,
                type="integer" if item.setting.integer else "choice",
                minimum=bounds[0] if bounds else None,
                maximum=bounds[1] if bounds else None,
                choices=list(choices) if choices else None,
            )
        )
    return result


def _shown() -> list[SettingOut]:
    live = runtime().live_settings
    return settings_out(runtime_settings.show(live.env, live.stored()))


@blueprint.get("")
@validate_response(Envelope[SettingsList])
async def list_settings() -> Envelope[SettingsList]:
    """The settings that may change while the service runs.

    Each with its value in effect, where it comes from (runtime, environment, default), the value a reset gives,
    its bounds and how a change takes effect. Administrators only."""
    return Envelope(data=SettingsList(settings=_shown()))


@blueprint.patch("")
@validate_request(SettingsPatch)
@validate_response(Envelope[SettingsChanged])
async def change_settings(data: SettingsPatch) -> Envelope[SettingsChanged]:
    """Change settings without a restart.

    All or nothing: an unknown setting or a value out of bounds is a 400 naming it, and nothing changes. ``null``
    resets a setting to its environment value. In effect at once in this process, within about two seconds in the
    others of the deployment. One audit row (``settings.change``) says each setting's old and new value."""
    given: dict[str, Any] = data.model_dump(include=data.model_fields_set)
    rt = runtime()
    values = runtime_settings.validate(given)
    changes = await rt.database.run(
        runtime_settings.apply_changes, rt.live_settings.env, values, current_principal().actor
    )
    g.audit_summary = runtime_settings.audit_summary(changes)
    await rt.database.run(rt.live_settings.refresh)  # this process at once; the others at their next refresh
    out = [SettingChange(name=c.name, old=c.old, new=c.new) for c in changes]
    return Envelope(data=SettingsChanged(changes=out, settings=_shown()))
