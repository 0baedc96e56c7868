"""The browser page (static files, no build step): ``/`` and ``/static/...``."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from quart import Blueprint, Response, send_from_directory

WEB_DIR: Final = Path(__file__).resolve().parents[1] / "web"

# The page's own files only: no inline script or style, nothing from elsewhere. Should some text ever be
# mistaken for markup, the browser still runs none of it.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

blueprint = Blueprint("web", __name__, static_folder=str(WEB_DIR), static_url_path="/static")


@blueprint.get("/")
async def index() -> Response:
    response = await send_from_directory(WEB_DIR, "index.html")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blueprint.after_request
async def revalidate_page_files(response: Response) -> Response:
    # The page's modules change with the service: a browser revalidates them (ETag) rather than keep a
    # stale module for hours next to fresh ones after an upgrade.
    response.headers["Cache-Control"] = "no-cache"
    response.headers.pop("Expires", None)
    return response
