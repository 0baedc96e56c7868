"""Job templates: named saved jobs with typed parameters, versioned at each change, launched as jobs.

A template's definition is JSON (what ``TemplateCreate`` in app/schemas/templates.py validated, with its parameters
checked by app/template_params.py). Each save is a new row of ``job_template_version``; a job records the template
and the version it was launched from, and the values it got (secrets redacted), so that editing or deleting the
template never changes a past job. Functions run in a database thread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

import peewee as pw

from app.clock import utcnow
from app.errors import Conflict, InvalidInput, NotFound
from app.groups import get_group, servers_in_group
from app.jobkinds import JobKind
from app.jobqueue.selection import GroupMembers, OneServer, Selection, ServerList
from app.jobqueue.submit import NewJob, create_jobs
from app.models import Job, JobTemplate, JobTemplateVersion
from app.scopes import Visible, hidden
from app.servers import get_server
from app.template_params import Parameter, convert_values, parse_parameters, redacted, secrets_of
from app.vault import Vault

# The definition's fields that become the job's own (NewJob's, by name).
_JOB_FIELDS: Final = ("command", "args", "script", "shell", "playbook", "timeout", "priority", "become", "become_user")


@dataclass(frozen=True)
class Launched:
    jobs: list[Job]
    batch_id: str | None
    template_id: str
    version: int


def definition_of(template: JobTemplate | JobTemplateVersion) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(template.definition)
    return loaded


def parameters_of(definition: Mapping[str, Any]) -> list[Parameter]:
    return parse_parameters(definition.get("parameters"))


def selection_of(definition: Mapping[str, Any]) -> Selection:
    if definition.get("server_id") is not None:
        return OneServer(str(definition["server_id"]))
    if definition.get("server_ids") is not None:
        return ServerList(tuple(str(one) for one in definition["server_ids"]))
    if definition.get("group") is not None:
        return GroupMembers(str(definition["group"]))
    raise InvalidInput("server_id: is required (or give server_ids or group)")


def server_ids_of(definition: Mapping[str, Any]) -> list[str]:
    """The servers a definition involves now: those it names, or its group's current members (nested too)."""
    selection = selection_of(definition)
    if isinstance(selection, OneServer):
        return [selection.server_id]
    if isinstance(selection, ServerList):
        return list(selection.server_ids)
    return [server.id for server in servers_in_group(selection.group)]


def _is_visible(definition: Mapping[str, Any], visible: Visible) -> bool:
    if visible is None:
        return True
    try:
        return all(one in visible for one in server_ids_of(definition))
    except NotFound:  # its group is gone: only an unlimited caller sees it
        return False


def _check_targets(definition: Mapping[str, Any], visible: Visible) -> None:
    """The servers or group a definition names exist and are in the caller's scope (404 as missing otherwise)."""
    selection = selection_of(definition)
    if isinstance(selection, GroupMembers):
        get_group(selection.group)
    else:
        for one in [selection.server_id] if isinstance(selection, OneServer) else selection.server_ids:
            server = get_server(one)
            if visible is not None and server.id not in visible:
                raise hidden("Server")
    if not _is_visible(definition, visible):
        raise NotFound(f"Group not found: no group named {definition['group']!r}")


def normalized(definition: Mapping[str, Any]) -> dict[str, Any]:
    """A validated definition as stored: parameters checked and written out in full."""
    stored = dict(definition)
    stored["parameters"] = [one.public() for one in parameters_of(definition)]
    return stored


def get_template(template_id_or_name: str, visible: Visible = None) -> JobTemplate:
    """By id or by name; out of the caller's scope it is missing."""
    template = JobTemplate.get_or_none(
        (JobTemplate.id == template_id_or_name) | (JobTemplate.name == template_id_or_name)
    )
    if template is None or not _is_visible(definition_of(template), visible):
        raise NotFound("Template not found")
    return template


def list_templates(visible: Visible = None) -> list[JobTemplate]:
    templates = JobTemplate.select().order_by(JobTemplate.name)
    return [one for one in templates if _is_visible(definition_of(one), visible)]


def _name_taken(name: str, other_than: str | None = None) -> bool:
    query = JobTemplate.select().where(JobTemplate.name == name)
    if other_than is not None:
        query = query.where(JobTemplate.id != other_than)
    return bool(query.exists())


def create_template(name: str, definition: Mapping[str, Any], actor: str, visible: Visible = None) -> JobTemplate:
    stored = normalized(definition)
    with JobTemplate._meta.database.atomic():
        _check_targets(stored, visible)
        if _name_taken(name):
            raise Conflict(f"name: a template named {name!r} exists")
        text = json.dumps(stored)
        try:
            template = JobTemplate.create(name=name, version=1, definition=text, created_by=actor, updated_by=actor)
        except pw.IntegrityError as exc:
            raise Conflict(f"name: a template named {name!r} exists") from exc
        JobTemplateVersion.create(template=template, version=1, definition=text, created_by=actor)
    return template


def update_template(
    template_id: str, name: str, definition: Mapping[str, Any], actor: str, visible: Visible = None
) -> JobTemplate:
    """A new version (the whole definition replaced); past versions and the jobs launched from them stay."""
    stored = normalized(definition)
    with JobTemplate._meta.database.atomic():
        template = get_template(template_id, visible)
        _check_targets(stored, visible)
        if _name_taken(name, other_than=template.id):
            raise Conflict(f"name: a template named {name!r} exists")
        text = json.dumps(stored)
        template.version = int(template.version) + 1
        template.name = name
        template.definition = text
        template.updated_at = utcnow()
        template.updated_by = actor
        template.save()
        JobTemplateVersion.create(template=template, version=template.version, definition=text, created_by=actor)
    return template


def delete_template(template_id: str, visible: Visible = None) -> JobTemplate:
    with JobTemplate._meta.database.atomic():
        template = get_template(template_id, visible)
        JobTemplateVersion.delete().where(JobTemplateVersion.template == template.id).execute()
        template.delete_instance()
    return template


def template_versions(template_id: str, visible: Visible = None) -> list[JobTemplateVersion]:
    template = get_template(template_id, visible)
    return list(
        JobTemplateVersion.select()
        .where(JobTemplateVersion.template == template.id)
        .order_by(JobTemplateVersion.version.desc())
    )


def new_job_of(definition: Mapping[str, Any]) -> NewJob:
    """The job a definition makes. Its parameter values are not part of it: they are recorded on the job apart
    (``Job.parameters``) and reach the run as data only (environment variables, or extra vars marked unsafe)."""
    fields = {name: definition[name] for name in _JOB_FIELDS if definition.get(name) is not None}
    if definition.get("extra_vars"):
        fields["extra_vars"] = json.dumps(definition["extra_vars"])
    return NewJob(kind=cast(JobKind, definition["kind"]), **fields)


def launch_template(
    template_id: str,
    values: Mapping[str, object],
    *,
    vault: Vault,
    max_timeout: int,
    submitted_by: str,
    visible: Visible = None,
) -> Launched:
    """The template's current version as jobs, in one transaction: ``values`` (JSON values, or strings as the CLI
    and webhooks send them) converted by each parameter's type (InvalidInput names a bad one), the targets
    resolved now (a group's current members), each in the caller's scope (``visible``, re-checked here)."""
    with Job._meta.database.atomic():
        template = get_template(template_id, visible)
        definition = definition_of(template)
        parameters = parameters_of(definition)
        converted = convert_values(parameters, values)
        secrets = secrets_of(parameters, converted)
        shown = redacted(parameters, converted)
        new = new_job_of(definition)
        recorded = {
            "template_id": template.id,
            "template_version": int(template.version),
            "parameters": json.dumps(shown),
            "secret_parameters_enc": vault.encrypt(json.dumps(secrets)) if secrets else None,
        }
        submitted = create_jobs(
            new, selection_of(definition), max_timeout, vault, submitted_by, visible, recorded=recorded
        )
    return Launched(submitted.jobs, submitted.batch_id, str(template.id), int(template.version))
