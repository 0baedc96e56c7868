"""``/api/v1/templates``: named saved jobs with typed parameters; each change a new version; launched as jobs."""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from quart import Blueprint, g
from quart_schema import tag, validate_request, validate_response

from app import templates
from app.api.context import current_principal, runtime, visible_servers
from app.api.jobs import job_out
from app.logs import for_job
from app.models import JobTemplate, JobTemplateVersion
from app.playbooks import find_playbook, open_directory
from app.schemas.common import Envelope
from app.schemas.jobs import JobBatchCreated, JobOut
from app.schemas.templates import (
    TemplateCreate,
    TemplateDeleted,
    TemplateLaunch,
    TemplateList,
    TemplateOut,
    TemplateVersionList,
    TemplateVersionOut,
)

log = logging.getLogger(__name__)
blueprint = Blueprint("templates", __name__)
TAGS: Final = ["templates"]


def template_out(template: JobTemplate) -> TemplateOut:
    definition = templates.definition_of(template)
    fields: dict[str, Any] = {name: definition.get(name) for name in TemplateOut.model_fields}
    fields.update(
        id=template.id,
        name=template.name,
        version=template.version,
        created_at=template.created_at,
        created_by=template.created_by,
        updated_at=template.updated_at,
        updated_by=template.updated_by,
    )
    return TemplateOut.model_validate(fields)


def _check_playbook(data: TemplateCreate) -> None:
    if data.kind == "playbook":
        find_playbook(open_directory(runtime().settings.playbook_dir), data.playbook or "")  # 400 bad, 404 unknown


@blueprint.get("")
@tag(TAGS)
@validate_response(Envelope[TemplateList])
async def list_templates() -> Envelope[TemplateList]:
    """List templates

    Every template, by name; a caller with a scope sees those whose servers (a group's current members) are all
    in it."""
    found = await runtime().database.run(templates.list_templates, await visible_servers())
    return Envelope(data=TemplateList(templates=[template_out(one) for one in found]))


@blueprint.post("")
@tag(TAGS)
@validate_request(TemplateCreate)
@validate_response(Envelope[TemplateOut], 201)
async def create_template(data: TemplateCreate) -> tuple[Envelope[TemplateOut], int]:
    """Create a template

    A named saved job: kind and text, targets, timeout, priority, become, extra vars and typed parameters. A
    secret parameter has no default. Its targets must exist and be in the caller's scope."""
    _check_playbook(data)
    template = await runtime().database.run(
        templates.create_template, data.name, data.definition(), current_principal().actor, await visible_servers()
    )
    return Envelope(data=template_out(template)), 201


@blueprint.get("/<template_id>")
@tag(TAGS)
@validate_response(Envelope[TemplateOut])
async def get_template(template_id: str) -> Envelope[TemplateOut]:
    """Read a template

    By id or by name. Its current version's definition."""
    template = await runtime().database.run(templates.get_template, template_id, await visible_servers())
    return Envelope(data=template_out(template))


@blueprint.put("/<template_id>")
@tag(TAGS)
@validate_request(TemplateCreate)
@validate_response(Envelope[TemplateOut])
async def update_template(template_id: str, data: TemplateCreate) -> Envelope[TemplateOut]:
    """Replace a template

    The whole definition, as a new version (the version number goes up by one). Past versions, and the jobs
    launched from them, stay as they were."""
    _check_playbook(data)
    template = await runtime().database.run(
        templates.update_template,
        template_id,
        data.name,
        data.definition(),
        current_principal().actor,
        await visible_servers(),
    )
    return Envelope(data=template_out(template))


@blueprint.delete("/<template_id>")
@tag(TAGS)
@validate_response(Envelope[TemplateDeleted])
async def delete_template(template_id: str) -> Envelope[TemplateDeleted]:
    """Delete a template

    With its versions. Its past jobs keep their template id, version and values."""
    template = await runtime().database.run(templates.delete_template, template_id, await visible_servers())
    return Envelope(data=TemplateDeleted(id=template.id, name=template.name))


@blueprint.get("/<template_id>/versions")
@tag(TAGS)
@validate_response(Envelope[TemplateVersionList])
async def template_versions(template_id: str) -> Envelope[TemplateVersionList]:
    """List a template's versions

    Every saved definition, newest first."""
    found: list[JobTemplateVersion] = await runtime().database.run(
        templates.template_versions, template_id, await visible_servers()
    )
    versions = [
        TemplateVersionOut(
            version=one.version,
            created_at=one.created_at,
            created_by=one.created_by,
            definition=json.loads(one.definition),
        )
        for one in found
    ]
    return Envelope(data=TemplateVersionList(versions=versions))


@blueprint.post("/<template_id>/launch")
@tag(TAGS)
@validate_request(TemplateLaunch)
@validate_response(Envelope[JobOut | JobBatchCreated], 201)
async def launch_template(template_id: str, data: TemplateLaunch) -> tuple[Envelope[JobOut | JobBatchCreated], int]:
    """Launch a template

    Its current version as jobs, with these parameter values (checked by type; a bad one is a 400 naming it). The
    answer is POST /api/v1/jobs's: the job, or a batch of jobs for several servers or a group (its members now).
    Each value reaches the job as data only: an environment variable of its name (command, script) or an extra
    var Ansible never templates (playbook); a secret one is shown as "********" and masked in the output."""
    # The audit row: the names given only, until the launch knows which are secret (app/api/audit.py).
    g.audit_summary = {"parameters": sorted(data.parameters)}
    rt = runtime()
    visible, actor = await visible_servers(), current_principal().actor

    def launch() -> templates.Launched:
        return templates.launch_template(
            template_id,
            data.parameters,
            vault=rt.vault,
            max_timeout=rt.live_settings.max_job_timeout,  # changeable at runtime
            submitted_by=actor,
            visible=visible,
        )

    launched = await rt.database.run(launch)
    first = launched.jobs[0]
    recorded: dict[str, Any] = json.loads(first.parameters) if first.parameters else {}
    g.audit_summary = {"parameters": recorded, "version": launched.version}
    for job in launched.jobs:
        log.info("job %s queued from template %s", job.id, launched.template_id, extra=for_job(job.id))
    rt.wake_workers()
    data_out: JobOut | JobBatchCreated = job_out(first)
    if launched.batch_id is not None:
        jobs = [job_out(job) for job in launched.jobs]
        data_out = JobBatchCreated(batch_id=launched.batch_id, count=len(jobs), jobs=jobs)
    return Envelope(data=data_out), 201
