"""NewRemora: run commands and scripts on SSH servers through Ansible, with live logs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.settings import Settings

if TYPE_CHECKING:
    from quart import Quart


def create_app(settings: Settings | None = None) -> Quart:
    """The only way to build the service. Nothing is opened until the app starts serving."""
    from app.api.application import build_app

    return build_app(settings or Settings.from_env())
