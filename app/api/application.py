"""Builds the Quart application: blueprints, schema, error mapping and the runtime's lifecycle."""

from __future__ import annotations

import asyncio

from quart import Quart
from quart_schema import Info, QuartSchema

from app.api import (
    audit,
    batches,
    credentials,
    groups,
    health,
    hooks,
    inventories,
    jobs,
    keys,
    me,
    metrics,
    notifications,
    oidc,
    playbooks,
    schedules,
    servers,
    settings_api,
    signin,
    stream,
    system,
    templates,
    triggers,
    users,
    web,
)
from app.api.access import install_access_control
from app.api.asgi import BodyGuard
from app.api.audit import install_audit
from app.api.bearer import install_oidc_provider
from app.api.context import RUNTIME_KEY, ApiRequest, install_request_context
from app.api.errors import register_error_handlers
from app.api.openapi import ApiDocument
from app.api.origins import install_origin_guard
from app.api.proxies import install_trusted_proxies
from app.runtime import Runtime
from app.settings import Settings


def build_app(settings: Settings) -> Quart:
    app = Quart("newremora", static_folder=None)  # the web blueprint serves /static
    app.request_class = ApiRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    QuartSchema(
        app,
        info=Info(title="NewRemora", version="0.1.0"),
        openapi_path="/openapi.json",
        swagger_ui_path="/docs",
        redoc_ui_path=None,
        scalar_ui_path=None,
        convert_casing=False,
        openapi_provider_class=ApiDocument,
    )
    # JSON keys in the order the models declare them (set after QuartSchema, which installs its provider).
    app.json.sort_keys = False  # type: ignore[attr-defined]
    install_request_context(app)
    install_origin_guard(app, settings)  # before the routes' handlers, authentication and rate limits
    register_error_handlers(app)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(metrics.blueprint)
    app.register_blueprint(web.blueprint)
    app.register_blueprint(signin.blueprint, url_prefix="/auth")
    app.register_blueprint(servers.blueprint, url_prefix="/api/v1/servers")
    app.register_blueprint(jobs.blueprint, url_prefix="/api/v1/jobs")
    app.register_blueprint(stream.blueprint, url_prefix="/api/v1/jobs")
    app.register_blueprint(system.blueprint, url_prefix="/api/v1/system")
    app.register_blueprint(playbooks.blueprint, url_prefix="/api/v1/playbooks")
    app.register_blueprint(groups.blueprint, url_prefix="/api/v1/groups")
    app.register_blueprint(batches.blueprint, url_prefix="/api/v1/batches")
    app.register_blueprint(templates.blueprint, url_prefix="/api/v1/templates")
    app.register_blueprint(credentials.blueprint, url_prefix="/api/v1/credentials")
    app.register_blueprint(inventories.blueprint, url_prefix="/api/v1/inventories")
    app.register_blueprint(users.blueprint, url_prefix="/api/v1/users")
    app.register_blueprint(keys.blueprint, url_prefix="/api/v1/keys")
    app.register_blueprint(me.blueprint, url_prefix="/api/v1/me")
    app.register_blueprint(audit.blueprint, url_prefix="/api/v1/audit")
    app.register_blueprint(settings_api.blueprint, url_prefix="/api/v1/settings")
    app.register_blueprint(notifications.blueprint, url_prefix="/api/v1/notification-targets")
    app.register_blueprint(schedules.blueprint, url_prefix="/api/v1/schedules")
    app.register_blueprint(oidc.blueprint, url_prefix="/auth/oidc")
    app.register_blueprint(triggers.blueprint, url_prefix="/api/v1")
    app.register_blueprint(hooks.blueprint, url_prefix="/hooks")
    install_oidc_provider(app, settings)  # a half-made single sign-on configuration stops the start here
    install_audit(app)
    install_access_control(app, settings)
    install_trusted_proxies(app, settings)
    # Outermost: an oversized body or a query string that is not UTF-8 is answered before anything else runs.
    app.asgi_app = BodyGuard(app.asgi_app, settings.max_body_bytes)  # type: ignore[method-assign]

    @app.before_serving
    async def open_runtime() -> None:
        runtime = Runtime.open(settings)
        app.extensions[RUNTIME_KEY] = runtime
        runtime.start(asyncio.get_running_loop())

    @app.after_serving
    async def close_runtime() -> None:
        runtime = app.extensions.pop(RUNTIME_KEY, None)
        if runtime is not None:
            runtime.close()

    return app
