"""``/api/v1/jobs``: submit, list, read, cancel and duplicate jobs; their output as text."""

from __future__ import annotations

import json
import logging
import math
from typing import Final, cast

from pydantic import ValidationError
from quart import Blueprint, Response, request
from quart_schema import (
    document_request,
    document_response,
    validate_querystring,
    validate_request,
    validate_response,
)

from app.api.context import current_principal, runtime, visible_servers
from app.api.errors import describe_validation_error
from app.clock import rfc3339, utcnow
from app.errors import InvalidInput
from app.jobkinds import JobKind
from app.jobqueue import jobshape, reads, submit, transitions
from app.jobqueue.listing import JobFilter, list_jobs_json
from app.jobqueue.selection import GroupMembers, OneServer, Selection, ServerList
from app.jobstates import JobStatus
from app.logs import for_job
from app.models import Job
from app.playbooks import find_playbook, open_directory
from app.schemas.common import Envelope
from app.schemas.jobs import (
    JobBatchCreated,
    JobCanceled,
    JobCreate,
    JobDetail,
    JobDetailQuery,
    JobDuplicate,
    JobDuplicated,
    JobList,
    JobListQuery,
    JobOut,
    OriginalJob,
    PlaybookJobCreate,
    ScriptJobCreate,
    TargetChoice,
    TaskResult,
    TaskResultList,
)

log = logging.getLogger(__name__)
blueprint = Blueprint("jobs", __name__)


def job_out(job: Job) -> JobOut:
    """A job read with its server (``reads.get_job``) as the API shows it: the shape of app/jobqueue/jobshape.py,
    which the lean listing writes too."""
    return JobOut.model_validate(jobshape.job_values(job))


Submission = tuple[Envelope[JobOut | JobBatchCreated], int]


_TARGET_FIELDS: Final = frozenset(TargetChoice.model_fields)


def _submission(kind: JobKind, data: TargetChoice) -> tuple[submit.NewJob, Selection]:
    """A validated submission as the jobs it asks for and the servers it names. Its other fields go to the jobs by
    name (``submit.NewJob``); extra vars are stored as JSON text."""
    fields = data.model_dump(exclude=set(_TARGET_FIELDS))
    if fields.get("extra_vars") is not None:
        fields["extra_vars"] = json.dumps(fields["extra_vars"])
    return submit.NewJob(kind=kind, **fields), _selection(data)


def _selection(data: TargetChoice) -> Selection:
    """The servers a validated submission names (the model saw to it that it names them one way only)."""
    if data.server_id is not None:
        return OneServer(data.server_id)
    if data.server_ids is not None:
        return ServerList(tuple(data.server_ids))
    assert data.group is not None
    return GroupMembers(data.group)


async def _submit(new: submit.NewJob, selection: Selection) -> Submission:
    """One server (``server_id``): the job itself, as the reference shows. Several (``server_ids``, ``group``):
    ``{"batch_id", "count", "jobs"}``, one job per server."""
    rt = runtime()
    visible = await visible_servers()
    # The answer is built from what the one transaction wrote: a 201 means committed, and nothing is read
    # after the commit that could fail and turn a stored job into an error. A target out of the caller's scope
    # refuses the whole submission inside that transaction: nothing is created.
    submitted = await rt.database.run(
        submit.create_jobs,
        new,
        selection,
        rt.live_settings.max_job_timeout,
        rt.vault,
        current_principal().actor,
        visible,
    )
    for job in submitted.jobs:
        log.info("job %s queued for server %s", job.id, job.server.id, extra=for_job(job.id))
    rt.wake_workers()
    data: JobOut | JobBatchCreated = job_out(submitted.jobs[0])
    if submitted.batch_id is not None:
        jobs = [job_out(job) for job in submitted.jobs]
        data = JobBatchCreated(batch_id=submitted.batch_id, count=len(jobs), jobs=jobs)
    return Envelope(data=data), 201


@blueprint.post("")
@validate_request(JobCreate)
@validate_response(Envelope[JobOut | JobBatchCreated], 201)
async def create_job(data: JobCreate) -> Submission:
    return await _submit(*_submission("command", data))


@blueprint.post("/script")
@validate_request(ScriptJobCreate)
@validate_response(Envelope[JobOut | JobBatchCreated], 201)
async def create_script_job(data: ScriptJobCreate) -> Submission:
    return await _submit(*_submission("script", data))


@blueprint.post("/playbook")
@validate_request(PlaybookJobCreate)
@validate_response(Envelope[JobOut | JobBatchCreated], 201)
async def create_playbook_job(data: PlaybookJobCreate) -> Submission:
    find_playbook(open_directory(runtime().settings.playbook_dir), data.playbook)  # 400 bad name, 404 unknown
    return await _submit(*_submission("playbook", data))


@blueprint.get("")
@validate_querystring(JobListQuery)
@document_response(Envelope[JobList])
async def list_jobs(query_args: JobListQuery) -> Response:
    """The lean read path (app/jobqueue/listing.py): the JSON ``Envelope[JobList]`` would give, without a model
    or a pydantic object per job (tests/integration/test_job_listing_rows.py keeps them equal)."""
    query = JobFilter(**query_args.model_dump())
    rt = runtime()
    jobs, total = await rt.database.run(list_jobs_json, query, rt.listing_totals, await visible_servers())
    total_pages = math.ceil(total / query.limit) if total else 0
    pagination = {
        "page": query.page,
        "limit": query.limit,
        "total": total,
        "total_pages": total_pages,
        "has_next": query.page < total_pages,
        "has_prev": query.page > 1,
    }
    # The jobs arrive as JSON text: the envelope is written around them rather than parsed and dumped again.
    body = (
        f'{{"success": true, "data": {{"jobs": {jobs}, "pagination": {json.dumps(pagination)}}}, '
        f'"error": null, "timestamp": "{rfc3339(utcnow())}"}}'
    )
    return Response(body, content_type="application/json")


@blueprint.get("/<job_id>")
@validate_querystring(JobDetailQuery)
@validate_response(Envelope[JobDetail])
async def get_job(job_id: str, query_args: JobDetailQuery) -> Envelope[JobDetail]:
    """``?include_output=false`` leaves out ``output``, ``stdout`` and ``stderr`` (null): the job's state
    without reading its output, which a page that tails the stream gets there anyway."""

    visible = await visible_servers()

    def load() -> tuple[Job, reads.JobOutput | None]:
        job = reads.get_job(job_id, visible)
        return job, reads.job_output(job) if query_args.include_output else None

    job, output = await runtime().database.run(load)
    state = job_out(job).model_dump()
    if output is None:
        detail = JobDetail(**state, output=None, stdout=None, stderr=None)
    else:
        detail = JobDetail(**state, output=output.output, stdout=output.stdout, stderr=output.stderr)
    return Envelope(data=detail)


@blueprint.get("/<job_id>/tasks")
@validate_response(Envelope[TaskResultList])
async def job_tasks(job_id: str) -> Envelope[TaskResultList]:
    """A playbook job's task results so far, each with its id in the job's stream (empty for other jobs)."""
    visible = await visible_servers()
    events = await runtime().database.run(lambda: reads.task_events(reads.get_job(job_id, visible)))
    return Envelope(data=TaskResultList(tasks=[TaskResult(**event) for event in events]))


async def _text(job_id: str, part: str) -> Response:
    visible = await visible_servers()

    def load() -> str:
        output = reads.job_output(reads.get_job(job_id, visible))
        return str(getattr(output, part))

    text = await runtime().database.run(load)
    return Response(text, status=200, content_type="text/plain; charset=utf-8")


@blueprint.get("/<job_id>/logs")
async def job_logs(job_id: str) -> Response:
    """stdout and stderr combined, in arrival order, as UTF-8 text: a NUL printed comes back as the byte 0;
    bytes that were not UTF-8 as U+FFFD."""
    return await _text(job_id, "output")


@blueprint.get("/<job_id>/stdout")
async def job_stdout(job_id: str) -> Response:
    """stdout as UTF-8 text: a NUL printed comes back as the byte 0; bytes that were not UTF-8 as U+FFFD."""
    return await _text(job_id, "stdout")


@blueprint.get("/<job_id>/stderr")
async def job_stderr(job_id: str) -> Response:
    """stderr as UTF-8 text: a NUL printed comes back as the byte 0; bytes that were not UTF-8 as U+FFFD."""
    return await _text(job_id, "stderr")


@blueprint.post("/<job_id>/cancel")
@validate_response(Envelope[JobCanceled], 200)
@validate_response(Envelope[JobCanceled], 202)
async def cancel_job(job_id: str) -> tuple[Envelope[JobCanceled], int]:
    """200 with status canceled for a queued job; 202 while a running job is being stopped."""
    rt = runtime()
    outcome = await rt.database.run(
        transitions.cancel_job, rt.events, job_id, current_principal().actor, await visible_servers()
    )
    job = outcome.job
    data = JobCanceled(
        id=job.id,
        status=cast(JobStatus, job.status),
        canceled_at=job.canceled_at,
        cancel_requested_at=job.cancel_requested_at,
        canceled_by=job.canceled_by,
    )
    return Envelope(data=data), 200 if outcome.immediate else 202


@blueprint.post("/<job_id>/duplicate")
@document_request(JobDuplicate)
@validate_response(Envelope[JobDuplicated], 201)
async def duplicate_job(job_id: str) -> tuple[Envelope[JobDuplicated], int]:
    # The body is optional: an empty one (or none) duplicates the job as it was.
    raw = await request.get_data()  # bytes: the JSON decoding step refuses what is not UTF-8
    body = await request.get_json() if raw.strip() else {}
    if not isinstance(body, dict):
        raise InvalidInput("request body: must be a JSON object")
    try:
        overrides = JobDuplicate.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from exc
    rt = runtime()
    # A field left out (or null) keeps the original's value.
    given = overrides.model_dump(exclude={"server_id"}, exclude_none=True)
    original, new = await rt.database.run(
        submit.duplicate_job,
        job_id,
        overrides.server_id,
        given,
        rt.live_settings.max_job_timeout,  # changeable at runtime (app/runtime_settings.py)
        rt.vault,
        current_principal().actor,
        await visible_servers(),
    )
    rt.wake_workers()
    data = JobDuplicated(
        original_job=OriginalJob(id=original.id, kind=original.kind, command=original.command), new_job=job_out(new)
    )
    return Envelope(data=data), 201
