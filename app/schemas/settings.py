"""``/api/v1/settings``: the settings an administrator may change while the service runs."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import RequestModel, Timestamp

SettingValue = int | str
SettingSource = Literal["runtime", "environment", "default"]

# One field per runtime setting (app/runtime_settings.py REGISTRY; a test keeps the two alike). Bounds are the
# registry's, checked there with the environment settings' own rules, so both ways of setting one say the same.
NULL_RESETS: Final = " null: back to the environment's value."


class SettingsPatch(RequestModel):
    """The settings to change; a field left out is left as it is, ``null`` resets it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"log_level": "debug", "max_job_timeout": 600}, {"log_level": None}]}
    )

    audit_retention_days: int | None = Field(None, description="Days audit rows are kept (0: forever)." + NULL_RESETS)
    job_retention_days: int | None = Field(
        None, description="Days an ended job is kept after it finished (0: forever)." + NULL_RESETS
    )
    output_retention_days: int | None = Field(
        None, description="Days an ended job's output is kept after it finished (0: forever)." + NULL_RESETS
    )
    notification_retention_days: int | None = Field(
        None, description="Days a delivered or dead notification is kept (0: forever)." + NULL_RESETS
    )
    max_job_timeout: int | None = Field(None, description="Largest job timeout accepted, in seconds." + NULL_RESETS)
    log_level: str | None = Field(None, description="debug, info, warning or error." + NULL_RESETS)
    rate_limit: int | None = Field(None, description="Requests per minute per client (0: none)." + NULL_RESETS)
    job_rate_limit: int | None = Field(None, description="Submissions per hour per client (0: none)." + NULL_RESETS)
    session_idle_minutes: int | None = Field(
        None, description="Minutes without a request after which a browser session ends." + NULL_RESETS
    )
    session_max_hours: int | None = Field(
        None, description="Hours after sign-in at which a browser session ends, however busy." + NULL_RESETS
    )
    signin_user_failures: int | None = Field(
        None, description="Refused sign-ins per username in the window before a lockout." + NULL_RESETS
    )
    signin_address_failures: int | None = Field(
        None, description="Refused sign-ins per client address in the window before a lockout." + NULL_RESETS
    )
    signin_window_minutes: int | None = Field(
        None, description="Minutes over which refused sign-ins are counted." + NULL_RESETS
    )


EXAMPLE_SETTING: Final[dict[str, Any]] = {
    "name": "max_job_timeout",
    "value": 600,
    "source": "runtime",
    "environment_value": 604800,
    "environment_source": "default",
    "changed_at": "2026-12-05T07:30:00.000Z",
    "changed_by": "key:0b5f3c2e-1d4a-4f7e-9a53-2c8f1e6d7b90",
    "description": "Largest job timeout accepted, in seconds.",
    "effect": "job submissions and duplicates are checked against it",
    "type": "integer",
    "minimum": 1,
    "maximum": 31536000,
    "choices": None,
}


class SettingOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_SETTING]})

    name: str
    value: SettingValue = Field(description="The value in effect.")
    source: SettingSource = Field(
        description="runtime: set while the service runs (overrides the environment); environment: a NEWREMORA_* "
        "variable; default: the built-in default."
    )
    environment_value: SettingValue = Field(description="The value without a runtime change (what a reset gives).")
    environment_source: Literal["environment", "default"]
    changed_at: Timestamp | None = Field(description="When the runtime value was set (null: none is).")
    changed_by: str | None = Field(description="Who set it: an actor as the audit trail names it.")
    description: str
    effect: str = Field(description="How a change takes effect.")
    type: Literal["integer", "choice"]
    minimum: int | None = None
    maximum: int | None = None
    choices: list[str] | None = None


class SettingsList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"settings": [EXAMPLE_SETTING]}]})

    settings: list[SettingOut]


class SettingChange(BaseModel):
    name: str
    old: SettingValue = Field(description="The value in effect before.")
    new: SettingValue = Field(description="The value in effect now.")


class SettingsChanged(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "changes": [{"name": "max_job_timeout", "old": 604800, "new": 600}],
                    "settings": [EXAMPLE_SETTING],
                }
            ]
        }
    )

    changes: list[SettingChange]
    settings: list[SettingOut]
