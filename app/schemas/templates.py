"""``/api/v1/templates``: named saved jobs with typed parameters, their versions, and launching them."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.schemas.common import LoginName, RequestModel, Timestamp
from app.schemas.jobs import ExtraVars, JobText, JobTimeout, Priority, ShellPath, TargetChoice

ParameterName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
TemplateName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._ -]*$")]
ParameterValue = str | int | bool

EXAMPLE_PARAMETERS: Final[list[Any]] = [
    {"name": "branch", "type": "string", "label": "Branch", "required": True, "pattern": "[A-Za-z0-9._/-]+"},
    {"name": "workers", "type": "integer", "min": 1, "max": 16, "default": 4},
    {"name": "token", "type": "secret", "description": "Deploy token (never shown again)"},
]
EXAMPLE_TEMPLATE: Final[dict[str, Any]] = {
    "name": "deploy",
    "description": "Deploy a branch",
    "kind": "command",
    "command": './deploy.sh "$branch" "$workers"',
    "group": "web",
    "timeout": 600,
    "parameters": EXAMPLE_PARAMETERS,
}


class ParameterDef(RequestModel):
    """One typed parameter; its value reaches the job as the environment variable (command, script) or the extra
    var (playbook) of its name, never inside the job's text."""

    name: ParameterName = Field(description="Lower case: it can never shadow PATH, HOME, LD_* and the like.")
    type: Literal["string", "integer", "boolean", "choice", "secret"] = "string"
    label: Annotated[str, Field(max_length=200)] | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    required: bool = False
    default: ParameterValue | None = Field(default=None, description="Not for a secret parameter (refused).")
    pattern: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, description="A string value must match it whole (Python regular expression)."
    )
    min: int | None = None
    max: int | None = None
    choices: list[Annotated[str, Field(min_length=1, max_length=255)]] | None = None


class TemplateCreate(TargetChoice):
    """A whole definition (POST, and PUT, which replaces it and makes a new version). Targets: exactly one of
    ``server_id``, ``server_ids`` or ``group`` (resolved at each launch: new members are included)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [EXAMPLE_TEMPLATE]})

    name: TemplateName
    description: Annotated[str, Field(max_length=2000)] | None = None
    kind: Literal["command", "script", "playbook"]
    command: JobText | None = None
    args: JobText | None = None
    script: JobText | None = None
    shell: ShellPath | None = None
    playbook: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    extra_vars: ExtraVars | None = None
    timeout: JobTimeout = 300
    priority: Priority = 5
    become: bool | None = None
    become_user: LoginName | None = None
    parameters: list[ParameterDef] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _kind_fields(self) -> TemplateCreate:
        needed = {"command": "command", "script": "script", "playbook": "playbook"}[self.kind]
        if not (getattr(self, needed) or "").strip():
            raise ValueError(f"{needed}: is required for a {self.kind} template")
        foreign = {
            "command": ("script", "shell", "playbook", "extra_vars"),
            "script": ("command", "args", "playbook", "extra_vars"),
            "playbook": ("command", "args", "script", "shell", "become", "become_user"),
        }[self.kind]
        for name in foreign:
            if getattr(self, name) is not None:
                raise ValueError(f"{name}: not for a {self.kind} template")
        return self

    def definition(self) -> dict[str, Any]:
        """What is stored: every field but the name (the template's own)."""
        return self.model_dump(mode="json", exclude={"name"}, exclude_none=False)


class ParameterOut(BaseModel):
    name: str
    type: str
    label: str | None
    description: str | None
    required: bool
    default: ParameterValue | None
    pattern: str | None
    min: int | None
    max: int | None
    choices: list[str] | None


class TemplateOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **EXAMPLE_TEMPLATE,
                    "id": "3b0f6c1e-8a52-4c77-9d1a-6e2f0b9c4d21",
                    "version": 2,
                    "created_by": "user:alice",
                    "updated_by": "user:bob",
                }
            ]
        }
    )

    id: str
    name: str
    version: int = Field(description="Each PUT makes a new version; a job records the one it was launched from.")
    description: str | None
    kind: str
    command: str | None
    args: str | None
    script: str | None
    shell: str | None
    playbook: str | None
    extra_vars: dict[str, Any] | None
    server_id: str | None
    server_ids: list[str] | None
    group: str | None
    timeout: int
    priority: int
    become: bool | None
    become_user: str | None
    parameters: list[ParameterOut]
    created_at: Timestamp
    created_by: str | None
    updated_at: Timestamp
    updated_by: str | None


class TemplateList(BaseModel):
    templates: list[TemplateOut]


class TemplateVersionOut(BaseModel):
    version: int
    created_at: Timestamp
    created_by: str | None
    definition: dict[str, Any] = Field(
        description="The definition saved as this version (every field of a template but id and name).",
        examples=[{k: v for k, v in EXAMPLE_TEMPLATE.items() if k != "name"}],
    )


class TemplateVersionList(BaseModel):
    versions: list[TemplateVersionOut]


class TemplateDeleted(BaseModel):
    id: str
    name: str


class TemplateLaunch(RequestModel):
    """The values of the template's parameters by name: JSON values, or strings converted by the parameter's type
    ("3" for an integer, "true"/"false" for a boolean). A missing one takes its default."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"parameters": {"branch": "main", "workers": 4, "token": "s3cr3t"}}]},
    )

    parameters: dict[str, ParameterValue] = Field(default_factory=dict)
