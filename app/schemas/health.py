"""``/health``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from app.schemas.common import Timestamp


class Health(BaseModel):
    status: Literal["healthy", "unhealthy"]
    timestamp: Timestamp
    database: Literal["connected", "disconnected"]
    queue: Literal["connected", "disconnected"]
