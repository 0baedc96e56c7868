"""The browser page (static files, no build step): ``/`` and ``/static/...``."""

from __future__ import annotations

from pathlib import Path

from quart import Blueprint, Response, send_from_directory

WEB_DIR = Path(__file__).resolve().parents[1] / "web"

blueprint = Blueprint("web", __name__, static_folder=str(WEB_DIR), static_url_path="/static")


@blueprint.get("/")
async def index() -> Response:
    response = await send_from_directory(WEB_DIR, "index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response
