"""A job's shape, checked without a database: the submitted fields travel by name from the request models to
``NewJob`` to the ``Job`` columns (app/jobqueue/submit.py), and the shape table (app/jobqueue/jobshape.py) is
``JobOut`` field for field."""

from __future__ import annotations

import dataclasses

from app.jobkinds import JOB_KINDS
from app.jobqueue import jobshape, submit
from app.models import Job
from app.schemas.jobs import JobCreate, JobDuplicate, JobOut, PlaybookJobCreate, ScriptJobCreate, TargetChoice

NEW_JOB_FIELDS = {one.name for one in dataclasses.fields(submit.NewJob)}


def test_every_request_field_has_its_place_in_new_job() -> None:
    targets = set(TargetChoice.model_fields)
    for model in (JobCreate, ScriptJobCreate, PlaybookJobCreate):
        assert set(model.model_fields) - targets <= NEW_JOB_FIELDS, model.__name__
    assert set(JobDuplicate.model_fields) - {"server_id"} <= NEW_JOB_FIELDS


def test_every_new_job_field_is_a_job_column() -> None:
    columns = set(Job._meta.fields)
    assert NEW_JOB_FIELDS - columns == {"become_password"}  # stored encrypted, as become_password_enc
    assert "become_password_enc" in columns


def test_the_duplicate_rules_name_every_kind_of_job() -> None:
    assert set(submit._FOREIGN_OVERRIDES) == set(JOB_KINDS)


def test_the_shape_table_is_jobout_field_for_field_in_its_order() -> None:
    assert list(jobshape.JOB_SHAPE) == list(JobOut.model_fields)
