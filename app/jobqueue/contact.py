"""What contact with a server taught: its host key (trusted on first use) and whether it answered."""

from __future__ import annotations

from app.clock import utcnow
from app.models import Server


def trust_host_key(server_id: str, host_key: str) -> None:
    """Trust on first use: only a server without a trusted key takes one."""
    Server.update(host_key=host_key).where((Server.id == server_id) & Server.host_key.is_null()).execute()


def note_connectivity(server_id: str, connected: bool, message: str, response_ms: int | None = None) -> None:
    """What the last contact with a server showed (a check, or a job's connection)."""
    Server.update(
        last_status="connected" if connected else "disconnected",
        last_checked_at=utcnow(),
        last_response_ms=response_ms,
        last_message=message[:1000],
    ).where(Server.id == server_id).execute()
