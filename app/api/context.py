"""Per-request plumbing: the request id, the access log line, and the runtime of the current app."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any, Final, cast

from quart import Quart, Request, Response, current_app, g, request

from app import groups
from app.api.decoding import decode_json_body
from app.errors import NewRemoraError
from app.logs import request_id_var
from app.principals import LOCAL, Principal
from app.runtime import Runtime
from app.scopes import Visible

log = logging.getLogger("newremora.access")

SANE_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
RUNTIME_KEY: Final = "newremora.runtime"


class ApiRequest(Request):
    """Quart's parsing decodes the body as UTF-8 whatever the charset, outside its error handling, and lets the
    parser's RecursionError through: malformed bytes were 500s. The body's bytes go through app/api/decoding.py."""

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if cache and self._cached_json[silent] is not Ellipsis:
            return self._cached_json[silent]
        if not (force or self.is_json):
            return None
        raw = await self.get_data(cache, False, False)
        try:
            result = decode_json_body(raw, self.mimetype_params.get("charset"))
        except NewRemoraError:
            if not silent:
                raise
            result = None
        if cache:
            self._cached_json[silent] = result
        return result


def request_id_from(incoming: str) -> str:
    """The client's X-Request-ID if it is sane (it goes into every log line), else a new one."""
    return incoming if SANE_REQUEST_ID.fullmatch(incoming) else f"req-{uuid.uuid4().hex}"


def runtime() -> Runtime:
    return cast(Runtime, current_app.extensions[RUNTIME_KEY])


def install_request_context(app: Quart) -> None:
    @app.before_request
    async def assign_request_id() -> None:
        request_id_var.set(request_id_from(request.headers.get("X-Request-ID", "")))
        g.request_started = time.perf_counter()

    @app.after_request
    async def stamp_response(response: Response) -> Response:
        response.headers["X-Request-ID"] = request_id_var.get()
        started = getattr(g, "request_started", None)
        elapsed_ms = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        fields = {
            "method": request.method,
            "client": request.remote_addr,  # the peer, or what a trusted proxy forwarded (app/api/proxies.py)
            "path": request.path,  # never the query string: a stream's access_token travels there
            "status": response.status_code,
            "duration_ms": round(elapsed_ms, 1),
            "job_id": (request.view_args or {}).get("job_id"),
        }
        log.info(
            "%s %s -> %s in %.1f ms from %s",
            request.method,
            request.path,
            response.status_code,
            elapsed_ms,
            request.remote_addr,
            extra=fields,
        )
        return response


def current_principal() -> Principal:
    """Who makes the current request (app/api/access.py decides it before any /api/v1 handler runs)."""
    principal: Principal = g.get("principal", LOCAL)
    return principal


async def visible_servers() -> Visible:
    """The ids of the servers the caller may see (None: all), resolved once per request and only for a caller
    with a scope: an unlimited one costs nothing (docs/access.md, "Scopes")."""
    scope = current_principal().scope
    if scope is None:
        return None
    if "visible_servers" not in g:
        g.visible_servers = await runtime().database.run(groups.visible_servers, scope)
    visible: Visible = g.visible_servers
    return visible
