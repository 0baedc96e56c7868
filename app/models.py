"""Peewee models: servers, credentials, groups, uploaded keys, jobs, their output chunks, and workers.

Every change here needs a migration in ``migrations/``; a test compares both schemas.
"""

from __future__ import annotations

from typing import Final

import peewee as pw

from app.clock import utcnow
from app.db import database_proxy
from app.fields import IdField, UtcDateTimeField, new_id

# JobChunk.stream of a playbook job's task events: numbered with the output, but not output.
TASK_STREAM: Final = "task"


class BaseModel(pw.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class Credential(BaseModel):
    """Secrets that many servers can share (``Server.credential``); Fernet tokens, never returned."""

    id = IdField(primary_key=True, default=new_id)
    name = pw.CharField(max_length=100, unique=True)
    description = pw.TextField(null=True)
    password_enc = pw.TextField(null=True)
    private_key_enc = pw.TextField(null=True)
    passphrase_enc = pw.TextField(null=True)
    become_password_enc = pw.TextField(null=True)
    created_at = UtcDateTimeField(default=utcnow)
    updated_at = UtcDateTimeField(default=utcnow)


class Server(BaseModel):
    id = IdField(primary_key=True, default=new_id)
    name = pw.CharField(max_length=100, unique=True)
    hostname = pw.CharField(max_length=253)
    port = pw.IntegerField(default=22)
    user = pw.CharField(max_length=32)
    auth_type = pw.CharField(max_length=16)
    # Fernet tokens; the clear text never reaches the database.
    password_enc = pw.TextField(null=True)
    private_key_enc = pw.TextField(null=True)
    passphrase_enc = pw.TextField(null=True)
    pem_file_url = pw.CharField(max_length=200, null=True)
    is_active = pw.BooleanField(default=True)
    # The host key trusted on first use, "TYPE BASE64" as in known_hosts.
    host_key = pw.TextField(null=True)
    last_status = pw.CharField(max_length=16, null=True)
    last_checked_at = UtcDateTimeField(null=True)
    last_response_ms = pw.IntegerField(null=True)
    last_message = pw.TextField(null=True)
    # Secrets the server does not carry itself come from its credential (its own win).
    credential = pw.ForeignKeyField(Credential, null=True, backref="servers", on_delete="RESTRICT")
    credential_id: str | None
    # Run jobs through sudo as become_user (default root); the password is the server's, or its credential's.
    become = pw.BooleanField(default=False)
    become_user = pw.CharField(max_length=32, null=True)
    become_password_enc = pw.TextField(null=True)
    python_interpreter = pw.CharField(max_length=255, null=True)
    created_at = UtcDateTimeField(default=utcnow)
    updated_at = UtcDateTimeField(default=utcnow)


class Group(BaseModel):
    """A named set of servers; groups nest (``GroupChild``), as Ansible inventory groups do."""

    id = IdField(primary_key=True, default=new_id)
    name = pw.CharField(max_length=100, unique=True)
    created_at = UtcDateTimeField(default=utcnow)


class GroupChild(BaseModel):
    parent = pw.ForeignKeyField(Group, backref="child_links", on_delete="CASCADE")
    child = pw.ForeignKeyField(Group, backref="parent_links", on_delete="CASCADE")

    class Meta:
        primary_key = pw.CompositeKey("parent", "child")


class ServerGroup(BaseModel):
    server = pw.ForeignKeyField(Server, backref="memberships", on_delete="CASCADE")
    group = pw.ForeignKeyField(Group, backref="memberships", on_delete="CASCADE")

    class Meta:
        primary_key = pw.CompositeKey("server", "group")


class PemFile(BaseModel):
    id = IdField(primary_key=True, default=new_id)
    filename = pw.CharField(max_length=255)
    size = pw.IntegerField()
    encrypted = pw.BooleanField()
    fingerprint = pw.CharField(max_length=100, null=True)
    key_enc = pw.TextField()
    uploaded_at = UtcDateTimeField(default=utcnow)


class Worker(BaseModel):
    id = IdField(primary_key=True, default=new_id)
    hostname = pw.CharField(max_length=253)
    pid = pw.IntegerField()
    threads = pw.IntegerField()
    batch_size = pw.IntegerField()
    started_at = UtcDateTimeField(default=utcnow)
    heartbeat_at = UtcDateTimeField(default=utcnow)
    stopped_at = UtcDateTimeField(null=True)


class Job(BaseModel):
    id = IdField(primary_key=True, default=new_id)
    # RESTRICT: a server with jobs is only removed together with them (DELETE ?force=true).
    server = pw.ForeignKeyField(Server, backref="jobs", on_delete="RESTRICT")
    server_id: str  # Peewee's accessor for the foreign key column, declared for the type checker
    kind = pw.CharField(max_length=16)  # command | script | playbook
    command = pw.TextField(null=True)
    args = pw.TextField(null=True)
    script = pw.TextField(null=True)
    shell = pw.CharField(max_length=255, null=True)
    # A playbook job: the playbook's file name in the playbook directory, and its extra vars as JSON text.
    playbook = pw.CharField(max_length=255, null=True)
    extra_vars = pw.TextField(null=True)
    timeout = pw.IntegerField()
    priority = pw.IntegerField(default=5)
    status = pw.CharField(max_length=16, default="queued")
    exit_code = pw.IntegerField(null=True)
    error = pw.TextField(null=True)
    failure_reason = pw.CharField(max_length=32, null=True)
    batch_id = pw.CharField(max_length=36, null=True)
    # Become overrides of this job (null: the server's settings); the password is dropped when the job ends.
    become = pw.BooleanField(null=True)
    become_user = pw.CharField(max_length=32, null=True)
    become_password_enc = pw.TextField(null=True)
    worker = pw.ForeignKeyField(Worker, null=True, backref="jobs", on_delete="SET NULL")
    worker_id: str | None
    created_at = UtcDateTimeField(default=utcnow)
    started_at = UtcDateTimeField(null=True)
    finished_at = UtcDateTimeField(null=True)
    cancel_requested_at = UtcDateTimeField(null=True)
    canceled_at = UtcDateTimeField(null=True)
    # A running job whose target stopped answering: when contact was lost (null while in contact), and when a
    # worker may next try to re-attach to it (it is handed back meanwhile: worker NULL).
    contact_lost_at = UtcDateTimeField(null=True)
    reattach_at = UtcDateTimeField(null=True)
    # What the controller has received so far: the offsets a re-attached poll resumes from.
    stdout_offset = pw.BigIntegerField(default=0)
    stderr_offset = pw.BigIntegerField(default=0)
    last_seq = pw.IntegerField(default=0)
    # Claims of this job so far: 1 when it starts, +1 at each re-attach. The newest run alone may clean up.
    attempt = pw.IntegerField(default=0)
    stored_bytes = pw.BigIntegerField(default=0)
    # Output cap: chunks up to head_last_seq are the kept head; the omitted bytes were dropped after it.
    head_last_seq = pw.IntegerField(null=True)
    stdout_omitted = pw.BigIntegerField(default=0)
    stderr_omitted = pw.BigIntegerField(default=0)
    # When retention deleted the output of this ended job (app/retention.py): its row, status and exit code stay.
    output_pruned_at = UtcDateTimeField(null=True)
    # Who submitted the job and who asked to cancel it: an audit actor, "kind:name" (app/principals.py).
    submitted_by = pw.CharField(max_length=255, null=True)
    canceled_by = pw.CharField(max_length=255, null=True)
    # A job launched from a template (app/templates.py): which one and its version then (no foreign key: editing
    # or deleting the template never changes or blocks its past jobs), and the values it was launched with as
    # JSON, secrets as "********". The secret values themselves are encrypted until the job ends.
    template_id = pw.CharField(max_length=36, null=True)
    template_version = pw.IntegerField(null=True)
    parameters = pw.TextField(null=True)
    secret_parameters_enc = pw.TextField(null=True)

    @property
    def omitted_bytes(self) -> int:
        return int(self.stdout_omitted) + int(self.stderr_omitted)

    class Meta:
        indexes = (
            # Claiming: WHERE status = 'queued' ORDER BY priority DESC, created_at.
            (("status", "priority", "created_at"), False),
            # Listing: WHERE status = ? ORDER BY created_at DESC, id DESC LIMIT 20 walks it and stops early.
            (("status", "created_at", "id"), False),
            (("server", "created_at"), False),
            (("created_at",), False),
            (("started_at",), False),
            (("finished_at",), False),
            (("batch_id",), False),
            # Output retention: WHERE output_pruned_at IS NULL AND finished_at < cutoff (migration 0019).
            (("output_pruned_at", "finished_at"), False),
        )


class JobChunk(BaseModel):
    id = pw.BigAutoField()
    job = pw.ForeignKeyField(Job, backref="chunks", on_delete="CASCADE")
    seq = pw.IntegerField()
    stream = pw.CharField(max_length=6)  # stdout | stderr | task (a playbook task's result, JSON)
    data = pw.TextField()
    size = pw.IntegerField()
    at = UtcDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("job", "seq"), True),)


class User(BaseModel):
    """A person who signs in or owns API keys (app/users.py). Never deleted: disabled, so that what they did keeps
    a name."""

    id = IdField(primary_key=True, default=new_id)
    username = pw.CharField(max_length=64, unique=True)
    display_name = pw.CharField(max_length=200, default="")
    email = pw.CharField(max_length=254, null=True)
    # Argon2id (app/users.py); empty for a user who has no password yet (keys only).
    password_hash = pw.CharField(max_length=255, default="")
    role = pw.CharField(max_length=16)
    disabled_at = UtcDateTimeField(null=True)
    created_at = UtcDateTimeField(default=utcnow)
    # The groups and servers the user is limited to, as JSON of their ids (app/scopes.py); null: unlimited.
    scope = pw.TextField(null=True)
    # "local", or "oidc": made by a first single sign-on (app/oidc_users.py), linked to its issuer's subject.
    source = pw.CharField(max_length=8, default="local")
    oidc_subject = pw.CharField(max_length=255, null=True, unique=True)

    class Meta:
        table_name = "app_user"  # "user" is a reserved word in PostgreSQL


class ApiKey(BaseModel):
    id = IdField(primary_key=True, default=new_id)
    name = pw.CharField(max_length=100)
    # The first characters of the key, to recognise it in listings; the key itself is never stored.
    prefix = pw.CharField(max_length=16)
    key_hash = pw.CharField(max_length=64, unique=True)
    created_at = UtcDateTimeField(default=utcnow)
    last_used_at = UtcDateTimeField(null=True)
    revoked_at = UtcDateTimeField(null=True)
    # Null for keys made before users existed: they stay administrator keys (docs/access.md).
    user = pw.ForeignKeyField(User, null=True, column_name="user_id", on_delete="RESTRICT")
    user_id: str | None
    # Null: the owner's role; else at most it (narrower), checked at every request against the owner's role now.
    role = pw.CharField(max_length=16, null=True)
    expires_at = UtcDateTimeField(null=True)
    # Null: the owner's scope; else the key's own, which holds within its owner's current one (app/scopes.py).
    scope = pw.TextField(null=True)


class KeyCheck(BaseModel):
    """One row: the Fernet encryption of a fixed marker with the deployment's key (app/keycheck.py). A process
    whose key cannot decrypt it refuses to start, before it can store a secret nobody else can read."""

    id = pw.IntegerField(primary_key=True)
    token = pw.TextField()
    updated_at = UtcDateTimeField(default=utcnow)


class AuditEvent(BaseModel):
    """One row per state-changing action, appended and never changed: the service has no way to edit or delete
    a row but pruning by age (app/audit.py). ``summary`` is JSON of the fields given, secrets as markers only."""

    id = pw.BigAutoField()
    at = UtcDateTimeField(default=utcnow)
    actor = pw.CharField(max_length=255)  # "kind:name", e.g. "local:local", "key:<id>", "cli:<os user>", "unknown"
    actor_kind = pw.CharField(max_length=16)
    key_id = pw.CharField(max_length=36, null=True)
    user_id = pw.CharField(max_length=36, null=True)
    action = pw.CharField(max_length=64)  # "server.create", "job.cancel", "auth.failed", ...
    object_type = pw.CharField(max_length=32, null=True)
    object_id = pw.CharField(max_length=255, null=True)
    summary = pw.TextField(null=True)
    source = pw.CharField(max_length=64, null=True)  # the client's address (trusted-proxy aware)
    request_id = pw.CharField(max_length=128, null=True)
    outcome = pw.CharField(max_length=16)  # success | refused | failed
    status = pw.IntegerField(null=True)  # the HTTP status (null for CLI actions)

    class Meta:
        # The listing walks id DESC; each filter's column leads an index that ends with id.
        indexes = (
            (("at",), False),
            (("actor", "id"), False),
            (("action", "id"), False),
            (("object_type", "object_id", "id"), False),
            (("outcome", "id"), False),
        )


class BrowserSession(BaseModel):
    """A browser's sign-in (app/sessions.py): the cookie holds a random token, the table only its SHA-256."""

    id = IdField(primary_key=True, default=new_id)
    token_hash = pw.CharField(max_length=64, unique=True)
    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    user_id: str
    method = pw.CharField(max_length=8)  # password | oidc
    created_at = UtcDateTimeField(default=utcnow)
    last_seen_at = UtcDateTimeField(default=utcnow)  # written at most once a minute
    ended_at = UtcDateTimeField(null=True)
    source = pw.CharField(max_length=64, null=True)
    user_agent = pw.CharField(max_length=255, null=True)
    # Sent back by the page on every unsafe request; worth nothing without the cookie it belongs to.
    csrf_token = pw.CharField(max_length=64)


class SigninFailure(BaseModel):
    """A refused sign-in, counted per username and per address over a window (app/sessions.py): in the database,
    so every process of a deployment counts the same failures."""

    id = pw.BigAutoField()
    at = UtcDateTimeField(default=utcnow)
    username = pw.CharField(max_length=64)
    source = pw.CharField(max_length=64)

    class Meta:
        indexes = ((("username", "at"), False), (("source", "at"), False), (("at",), False))


class RuntimeSetting(BaseModel):
    """A setting an administrator changed while the service runs (app/runtime_settings.py): it overrides the
    environment's value until reset (the row deleted). ``value`` is JSON text."""

    name = pw.CharField(max_length=64, primary_key=True)
    value = pw.TextField()
    changed_at = UtcDateTimeField(default=utcnow)
    changed_by = pw.CharField(max_length=255)


class JobTemplate(BaseModel):
    """A named saved job (app/templates.py): its current definition, as JSON, is also its newest version's."""

    id = IdField(primary_key=True, default=new_id)
    name = pw.CharField(max_length=100, unique=True)
    version = pw.IntegerField(default=1)
    definition = pw.TextField()
    created_at = UtcDateTimeField(default=utcnow)
    created_by = pw.CharField(max_length=255, null=True)
    updated_at = UtcDateTimeField(default=utcnow)
    updated_by = pw.CharField(max_length=255, null=True)


class JobTemplateVersion(BaseModel):
    """Each saved definition of a template, never changed: a job names the version it was launched from."""

    id = pw.BigAutoField()
    template = pw.ForeignKeyField(JobTemplate, backref="versions", on_delete="CASCADE")
    template_id: str
    version = pw.IntegerField()
    definition = pw.TextField()
    created_at = UtcDateTimeField(default=utcnow)
    created_by = pw.CharField(max_length=255, null=True)

    class Meta:
        indexes = ((("template", "version"), True),)


class NotificationTarget(BaseModel):
    """Where job and batch events are sent (app/notifications/): a URL, the secret its bodies are signed with
    (a Fernet token, shown once at creation), the events it wants, and optionally one template's jobs only."""

    id = IdField(primary_key=True, default=new_id)
    name = pw.CharField(max_length=100, unique=True)
    url = pw.CharField(max_length=2000)
    secret_enc = pw.TextField()
    events = pw.TextField()  # JSON list of event names (app/notifications/events.py)
    # No foreign key, as on job: a template deleted leaves the target, which then matches nothing.
    template_id = pw.CharField(max_length=36, null=True)
    format = pw.CharField(max_length=8, default="json")  # json | slack
    enabled = pw.BooleanField(default=True)
    created_at = UtcDateTimeField(default=utcnow)
    created_by = pw.CharField(max_length=255, null=True)
    updated_at = UtcDateTimeField(default=utcnow)


class Notification(BaseModel):
    """The durable outbox: one event for one target, inserted in the transaction that ended the job. Delivered by
    whichever process leases it first (``lease_until``); ``idempotency_key`` is unique per (event, target), so an
    event is never queued twice for one receiver, and is sent with every attempt."""

    id = IdField(primary_key=True, default=new_id)
    target = pw.ForeignKeyField(NotificationTarget, backref="notifications", on_delete="CASCADE")
    target_id: str
    event = pw.CharField(max_length=32)
    subject_id = pw.CharField(max_length=36)  # the job's or the batch's id
    idempotency_key = pw.CharField(max_length=36, unique=True)
    payload = pw.TextField()  # the event's summary as JSON; the body is built from it in the target's format
    state = pw.CharField(max_length=16, default="pending")  # pending | delivered | dead
    attempts = pw.IntegerField(default=0)
    next_attempt_at = UtcDateTimeField(default=utcnow)
    lease_until = UtcDateTimeField(null=True)
    leased_by = pw.CharField(max_length=36, null=True)
    created_at = UtcDateTimeField(default=utcnow)
    delivered_at = UtcDateTimeField(null=True)
    last_status = pw.IntegerField(null=True)
    last_error = pw.TextField(null=True)

    class Meta:
        indexes = (
            # Claiming: WHERE state = 'pending' AND next_attempt_at <= now ORDER BY next_attempt_at.
            (("state", "next_attempt_at"), False),
            (("target", "created_at"), False),
            (("created_at",), False),
        )


class NotificationAttempt(BaseModel):
    """One POST of a notification: when, how long, and the receiver's status or the error."""

    id = pw.BigAutoField()
    notification = pw.ForeignKeyField(Notification, backref="attempt_rows", on_delete="CASCADE")
    notification_id: str
    number = pw.IntegerField()
    at = UtcDateTimeField(default=utcnow)
    duration_ms = pw.IntegerField()
    status = pw.IntegerField(null=True)
    error = pw.TextField(null=True)

    class Meta:
        indexes = ((("notification", "number"), False),)


class Schedule(BaseModel):
    """A template launched on a cron expression in a time zone (app/schedules.py). ``next_run_at`` is the claim:
    a process fires a tick by moving it on with compare-and-set, in the transaction that records the run."""

    id = IdField(primary_key=True, default=new_id)
    name = pw.CharField(max_length=100, unique=True)
    # No foreign key: deleting the template leaves the schedule, whose next run then says why it failed.
    template_id = pw.CharField(max_length=36, index=True)
    # The launch's values as JSON, secrets left out; those are here encrypted (the vault), never returned.
    parameters = pw.TextField(default="{}")
    secret_parameters_enc = pw.TextField(null=True)
    cron = pw.CharField(max_length=120)
    timezone = pw.CharField(max_length=64)
    enabled = pw.BooleanField(default=True)
    overlap = pw.CharField(max_length=8, default="skip")  # skip | queue
    missed = pw.CharField(max_length=8, default="run_once")  # run_once | skip
    next_run_at = UtcDateTimeField(null=True, index=True)  # null while disabled
    # The user who last saved it (None: the local owner or an administrator key of no user); disabled, it stops
    # firing. Each tick launches within the saving grant's own scope (an API key's) within the owner's scope then
    # (app/launch_owner.py).
    owner_user_id = pw.CharField(max_length=36, null=True)
    grant_scope = pw.TextField(null=True)
    created_at = UtcDateTimeField(default=utcnow)
    created_by = pw.CharField(max_length=255, null=True)
    updated_at = UtcDateTimeField(default=utcnow)
    updated_by = pw.CharField(max_length=255, null=True)


class ScheduleRun(BaseModel):
    """One claimed tick of a schedule and what came of it (launched, skipped_overlap, skipped_missed, failed)."""

    id = pw.BigAutoField()
    schedule_id = pw.CharField(max_length=36)
    due_at = UtcDateTimeField()
    fired_at = UtcDateTimeField(default=utcnow)
    outcome = pw.CharField(max_length=16)
    message = pw.TextField(null=True)
    job_id = pw.CharField(max_length=36, null=True)  # the first job of the launch
    batch_id = pw.CharField(max_length=36, null=True)
    job_count = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("schedule_id", "due_at"), True),)


class Trigger(BaseModel):
    """A template's webhook (app/triggers.py): a request signed with its secret launches the template. The secret
    is a Fernet token, shown once (on create and on rotate) and never returned again."""

    id = IdField(primary_key=True, default=new_id)
    template = pw.ForeignKeyField(JobTemplate, backref="triggers", on_delete="CASCADE")
    template_id: str
    name = pw.CharField(max_length=100)
    secret_enc = pw.TextField()
    enabled = pw.BooleanField(default=True)
    mapping = pw.TextField(default="{}")  # JSON: parameter name -> dotted path into the body
    rate_limit = pw.IntegerField()  # accepted requests per minute
    created_at = UtcDateTimeField(default=utcnow)
    created_by = pw.CharField(max_length=255)
    rotated_at = UtcDateTimeField(null=True)
    last_used_at = UtcDateTimeField(null=True)
    # As a schedule's: who last saved it, and that grant's own scope; a delivery launches within them then.
    owner_user_id = pw.CharField(max_length=36, null=True)
    grant_scope = pw.TextField(null=True)


class TriggerDelivery(BaseModel):
    """The replay store, one row per accepted request: the digests of its signature and of the sender's delivery
    id are UNIQUE, so one request launches once however many processes receive it. Kept until its timestamp could
    no longer be accepted, and a minute at least: the rate limit counts these rows."""

    id = pw.BigAutoField()
    trigger = pw.ForeignKeyField(Trigger, backref="deliveries", on_delete="CASCADE")
    trigger_id: str
    digest = pw.CharField(max_length=64, unique=True)  # of the signature
    delivery_digest = pw.CharField(max_length=64, unique=True, null=True)  # of the sender's delivery id, if sent
    received_at = UtcDateTimeField(default=utcnow)
    expires_at = UtcDateTimeField()

    class Meta:
        indexes = ((("trigger", "received_at"), False), (("expires_at",), False))


ALL_MODELS: tuple[type[BaseModel], ...] = (
    User,
    Credential,
    Server,
    Group,
    GroupChild,
    ServerGroup,
    PemFile,
    Worker,
    Job,
    JobChunk,
    ApiKey,
    KeyCheck,
    AuditEvent,
    BrowserSession,
    SigninFailure,
    RuntimeSetting,
    JobTemplate,
    JobTemplateVersion,
    NotificationTarget,
    Notification,
    NotificationAttempt,
    Schedule,
    ScheduleRun,
    Trigger,
    TriggerDelivery,
)
