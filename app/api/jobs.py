"""``/api/v1/jobs``: submit, list, read, cancel and duplicate jobs; their output as text."""

from __future__ import annotations

import json
import logging
import math
from typing import cast

from pydantic import ValidationError
from quart import Blueprint, Response, request
from quart_schema import (
    document_request,
    document_response,
    validate_querystring,
    validate_request,
    validate_response,
)

from app.api.context import runtime
from app.api.errors import describe_validation_error
from app.clock import rfc3339, utcnow
from app.errors import InvalidInput
from app.jobqueue import reads, submit, transitions
from app.jobqueue.listing import JobFilter, list_jobs_json
from app.logs import for_job
from app.models import Job
from app.playbooks import find_playbook, open_directory
from app.schemas import (
    Envelope,
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
    JobServer,
    JobStatus,
    OriginalJob,
    PlaybookJobCreate,
    ScriptJobCreate,
    TaskResult,
    TaskResultList,
)

log = logging.getLogger(__name__)
blueprint = Blueprint("jobs", __name__)


def job_out(job: Job) -> JobOut:
    server = job.server
    return JobOut(
        id=job.id,
        kind=job.kind,
        command=job.command,
        args=job.args,
        script=job.script,
        shell=job.shell,
        playbook=job.playbook,
        extra_vars=json.loads(job.extra_vars) if job.extra_vars is not None else None,
        status=cast(JobStatus, job.status),
        server_id=server.id,
        server=JobServer(id=server.id, name=server.name, hostname=server.hostname),
        priority=job.priority,
        timeout=job.timeout,
        exit_code=job.exit_code,
        error=job.error,
        failure_reason=job.failure_reason,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        cancel_requested_at=job.cancel_requested_at,
        canceled_at=job.canceled_at,
        output_bytes=job.stored_bytes,
        output_truncated=job.omitted_bytes > 0,
        batch_id=job.batch_id,
        become=job.become,
        become_user=job.become_user,
    )


Submission = tuple[Envelope[JobOut | JobBatchCreated], int]


async def _submit(new: submit.NewJob) -> Submission:
    """One server (``server_id``): the job itself, as the reference shows. Several (``server_ids``, ``group``):
    ``{"batch_id", "count", "jobs"}``, one job per server."""
    rt = runtime()
    # The answer is built from what the one transaction wrote: a 201 means committed, and nothing is read
    # after the commit that could fail and turn a stored job into an error.
    submitted = await rt.database.run(submit.create_jobs, new, rt.settings.max_job_timeout, rt.vault)
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
    return await _submit(
        submit.NewJob(
            server_id=data.server_id,
            server_ids=data.server_ids,
            group=data.group,
            kind="command",
            command=data.command,
            args=data.args,
            timeout=data.timeout,
            priority=data.priority,
            become=data.become,
            become_user=data.become_user,
            become_password=data.become_password,
        )
    )


@blueprint.post("/script")
@validate_request(ScriptJobCreate)
@validate_response(Envelope[JobOut | JobBatchCreated], 201)
async def create_script_job(data: ScriptJobCreate) -> Submission:
    return await _submit(
        submit.NewJob(
            server_id=data.server_id,
            server_ids=data.server_ids,
            group=data.group,
            kind="script",
            script=data.script,
            shell=data.shell,
            timeout=data.timeout,
            priority=data.priority,
            become=data.become,
            become_user=data.become_user,
            become_password=data.become_password,
        )
    )


@blueprint.post("/playbook")
@validate_request(PlaybookJobCreate)
@validate_response(Envelope[JobOut | JobBatchCreated], 201)
async def create_playbook_job(data: PlaybookJobCreate) -> Submission:
    find_playbook(open_directory(runtime().settings.playbook_dir), data.playbook)  # 400 bad name, 404 unknown
    return await _submit(
        submit.NewJob(
            server_id=data.server_id,
            server_ids=data.server_ids,
            group=data.group,
            kind="playbook",
            playbook=data.playbook,
            extra_vars=json.dumps(data.extra_vars) if data.extra_vars is not None else None,
            timeout=data.timeout,
            priority=data.priority,
        )
    )


@blueprint.get("")
@validate_querystring(JobListQuery)
@document_response(Envelope[JobList])
async def list_jobs(query_args: JobListQuery) -> Response:
    """The lean read path (app/jobqueue/listing.py): the JSON ``Envelope[JobList]`` would give, without a model
    or a pydantic object per job (tests/integration/test_job_listing_rows.py keeps them equal)."""
    query = JobFilter(**query_args.model_dump())
    rt = runtime()
    jobs, total = await rt.database.run(list_jobs_json, query, rt.listing_totals)
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

    def load() -> tuple[Job, reads.JobOutput | None]:
        job = reads.get_job(job_id)
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
    events = await runtime().database.run(lambda: reads.task_events(reads.get_job(job_id)))
    return Envelope(data=TaskResultList(tasks=[TaskResult(**event) for event in events]))


async def _text(job_id: str, part: str) -> Response:
    def load() -> str:
        output = reads.job_output(reads.get_job(job_id))
        return str(getattr(output, part))

    text = await runtime().database.run(load)
    return Response(text, status=200, content_type="text/plain; charset=utf-8")


@blueprint.get("/<job_id>/logs")
async def job_logs(job_id: str) -> Response:
    """stdout and stderr combined, in arrival order."""
    return await _text(job_id, "output")


@blueprint.get("/<job_id>/stdout")
async def job_stdout(job_id: str) -> Response:
    return await _text(job_id, "stdout")


@blueprint.get("/<job_id>/stderr")
async def job_stderr(job_id: str) -> Response:
    return await _text(job_id, "stderr")


@blueprint.post("/<job_id>/cancel")
@validate_response(Envelope[JobCanceled], 200)
@validate_response(Envelope[JobCanceled], 202)
async def cancel_job(job_id: str) -> tuple[Envelope[JobCanceled], int]:
    """200 with status canceled for a queued job; 202 while a running job is being stopped."""
    rt = runtime()
    outcome = await rt.database.run(transitions.cancel_job, rt.events, job_id)
    rt.poke_workers()  # a worker of this process may run it (others hear of it through the database)
    job = outcome.job
    data = JobCanceled(
        id=job.id,
        status=cast(JobStatus, job.status),
        canceled_at=job.canceled_at,
        cancel_requested_at=job.cancel_requested_at,
    )
    return Envelope(data=data), 200 if outcome.immediate else 202


@blueprint.post("/<job_id>/duplicate")
@document_request(JobDuplicate)
@validate_response(Envelope[JobDuplicated], 201)
async def duplicate_job(job_id: str) -> tuple[Envelope[JobDuplicated], int]:
    # The body is optional: an empty one (or none) duplicates the job as it was.
    raw = await request.get_data(as_text=True)
    body = await request.get_json() if raw.strip() else {}
    if not isinstance(body, dict):
        raise InvalidInput("request body: must be a JSON object")
    try:
        overrides = JobDuplicate.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from exc
    rt = runtime()

    overridden = submit.Overrides(**overrides.model_dump())
    original, new = await rt.database.run(
        submit.duplicate_job, job_id, overridden, rt.settings.max_job_timeout, rt.vault
    )
    rt.wake_workers()
    data = JobDuplicated(
        original_job=OriginalJob(id=original.id, kind=original.kind, command=original.command), new_job=job_out(new)
    )
    return Envelope(data=data), 201
