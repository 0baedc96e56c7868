"""Who may call what: the least role each /api/v1 route needs, in one table.

The access layer (app/api/access.py) enforces it before any handler runs; a test checks that every /api/v1 route
of the application has exactly one row here (a new route without one fails it), and docs/access.md prints this
table (``markdown_table``; a test checks that the page shows it as it is).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from app.principals import ROLES, Role


@dataclass(frozen=True)
class RouteRight:
    endpoint: str  # the Quart endpoint: blueprint.function
    methods: str  # as docs/access.md shows them, e.g. "PATCH, PUT"
    path: str
    role: Role  # the least role that may call it
    note: str = ""


def _r(endpoint: str, methods: str, path: str, role: Role, note: str = "") -> RouteRight:
    return RouteRight(endpoint, methods, f"/api/v1{path}", role, note)


ROUTE_RIGHTS: Final[tuple[RouteRight, ...]] = (
    _r("me.me", "GET", "/me", "viewer", "who is calling and what they may do"),
    _r("servers.list_servers", "GET", "/servers", "viewer", "servers never carry secrets"),
    _r("servers.get_server", "GET", "/servers/<server_id>", "viewer"),
    _r("servers.create_server", "POST", "/servers", "admin"),
    _r("servers.update_server", "PATCH, PUT", "/servers/<server_id>", "admin"),
    _r("servers.delete_server", "DELETE", "/servers/<server_id>", "admin"),
    _r("servers.forget_host_key", "DELETE", "/servers/<server_id>/host-key", "admin"),
    _r("servers.test_server", "POST", "/servers/<server_id>/test", "operator", "connects as a job would"),
    _r("servers.check_status", "POST", "/servers/check-status", "operator", "connects as a job would"),
    _r("servers.upload_pem", "POST", "/servers/upload-pem", "admin"),
    _r("jobs.list_jobs", "GET", "/jobs", "viewer"),
    _r("jobs.get_job", "GET", "/jobs/<job_id>", "viewer"),
    _r("jobs.job_logs", "GET", "/jobs/<job_id>/logs", "viewer"),
    _r("jobs.job_stdout", "GET", "/jobs/<job_id>/stdout", "viewer"),
    _r("jobs.job_stderr", "GET", "/jobs/<job_id>/stderr", "viewer"),
    _r("jobs.job_tasks", "GET", "/jobs/<job_id>/tasks", "viewer"),
    _r("stream.stream", "GET", "/jobs/<job_id>/stream", "viewer"),
    _r("jobs.create_job", "POST", "/jobs", "operator"),
    _r("jobs.create_script_job", "POST", "/jobs/script", "operator"),
    _r("jobs.create_playbook_job", "POST", "/jobs/playbook", "operator"),
    _r("jobs.cancel_job", "POST", "/jobs/<job_id>/cancel", "operator"),
    _r("jobs.duplicate_job", "POST", "/jobs/<job_id>/duplicate", "operator"),
    _r("batches.batch_summary", "GET", "/batches/<batch_id>", "viewer"),
    _r("templates.list_templates", "GET", "/templates", "viewer", "a secret parameter has no default to show"),
    _r("templates.get_template", "GET", "/templates/<template_id>", "viewer"),
    _r("templates.template_versions", "GET", "/templates/<template_id>/versions", "viewer"),
    _r("templates.create_template", "POST", "/templates", "operator", "what an operator may submit as a job"),
    _r("templates.update_template", "PUT", "/templates/<template_id>", "operator", "a new version"),
    _r("templates.delete_template", "DELETE", "/templates/<template_id>", "operator", "its past jobs stay"),
    _r("templates.launch_template", "POST", "/templates/<template_id>/launch", "operator", "submits jobs"),
    _r("groups.groups", "GET", "/groups", "viewer"),
    _r("system.info", "GET", "/system/info", "viewer"),
    _r("system.enhanced", "GET", "/system/enhanced", "viewer"),
    _r("playbooks.playbooks", "GET", "/playbooks", "viewer"),
    _r("credentials.list_credentials", "GET", "/credentials", "admin"),
    _r("credentials.get_credential", "GET", "/credentials/<credential_id>", "admin"),
    _r("credentials.create_credential", "POST", "/credentials", "admin"),
    _r("credentials.update_credential", "PATCH, PUT", "/credentials/<credential_id>", "admin"),
    _r("credentials.delete_credential", "DELETE", "/credentials/<credential_id>", "admin"),
    _r("inventories.export", "GET", "/inventories/export", "admin"),
    _r("inventories.import_", "POST", "/inventories/import", "admin"),
    _r("keys.list_keys", "GET", "/keys", "viewer", "a user's own keys; an administrator's: all"),
    _r("keys.create_key", "POST", "/keys", "viewer", "for oneself, at most one's own role"),
    _r("keys.revoke_key", "DELETE", "/keys/<key_id>", "viewer", "one's own keys; an administrator: any"),
    _r("users.list_users", "GET", "/users", "admin"),
    _r("users.create_user", "POST", "/users", "admin"),
    _r("users.get_user", "GET", "/users/<user_id>", "admin"),
    _r("users.update_user", "PATCH", "/users/<user_id>", "admin"),
    _r("audit.list_audit", "GET", "/audit", "admin", "who did what; never a secret"),
    _r("settings.list_settings", "GET", "/settings", "admin", "settings that may change at runtime"),
    _r("settings.change_settings", "PATCH", "/settings", "admin", "without a restart; audited old → new"),
    _r("notifications.list_targets", "GET", "/notification-targets", "admin", "outgoing webhooks; never a secret"),
    _r("notifications.create_target", "POST", "/notification-targets", "admin", "its secret shown once"),
    _r("notifications.get_target", "GET", "/notification-targets/<target_id>", "admin"),
    _r("notifications.update_target", "PATCH", "/notification-targets/<target_id>", "admin"),
    _r("notifications.delete_target", "DELETE", "/notification-targets/<target_id>", "admin"),
    _r("notifications.list_deliveries", "GET", "/notification-targets/<target_id>/deliveries", "admin"),
    _r("notifications.test_target", "POST", "/notification-targets/<target_id>/test", "admin", "sends a test event"),
    _r("schedules.list_schedules", "GET", "/schedules", "viewer", "with the next runs; secret values never shown"),
    _r("schedules.get_schedule", "GET", "/schedules/<schedule_id>", "viewer"),
    _r("schedules.schedule_runs", "GET", "/schedules/<schedule_id>/runs", "viewer"),
    _r("schedules.create_schedule", "POST", "/schedules", "operator", "launches as the operator would"),
    _r("schedules.update_schedule", "PATCH", "/schedules/<schedule_id>", "operator"),
    _r("schedules.delete_schedule", "DELETE", "/schedules/<schedule_id>", "operator"),
    _r("triggers.list_triggers", "GET", "/templates/<template_id>/triggers", "viewer", "never the secrets"),
    _r("triggers.create_trigger", "POST", "/templates/<template_id>/triggers", "operator", "the secret shown once"),
    _r("triggers.update_trigger", "PATCH", "/triggers/<trigger_id>", "operator", "enable, disable, mapping, limit"),
    _r("triggers.delete_trigger", "DELETE", "/triggers/<trigger_id>", "operator"),
    _r("triggers.rotate_trigger", "POST", "/triggers/<trigger_id>/rotate", "operator", "the new secret shown once"),
)

LEAST_ROLE: Final[dict[str, Role]] = {right.endpoint: right.role for right in ROUTE_RIGHTS}


def rank(role: Role) -> int:
    return ROLES.index(role)


def at_least(role: Role, needed: Role) -> bool:
    return rank(role) >= rank(needed)


def narrower(first: Role, second: Role) -> Role:
    """The lesser of two roles: what a key narrower than its owner may do."""
    return first if rank(first) <= rank(second) else second


def needed_role(endpoint: str | None) -> Role:
    """The least role of an endpoint; one missing from the table needs ``admin`` (closed, not open, by default)."""
    return LEAST_ROLE.get(endpoint or "", "admin")


def allowed_endpoints(role: Role) -> list[str]:
    return [right.endpoint for right in ROUTE_RIGHTS if at_least(role, right.role)]


def markdown_table() -> str:
    """The table docs/access.md prints between its markers."""
    lines = ["| method | route | viewer | operator | admin | note |", "|---|---|---|---|---|---|"]
    for right in ROUTE_RIGHTS:
        cells = ["yes" if at_least(role, right.role) else "403" for role in ROLES]
        lines.append(f"| {right.methods} | `{right.path}` | {' | '.join(cells)} | {right.note} |")
    return "\n".join(lines) + "\n"
