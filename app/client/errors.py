"""What can go wrong on the client side; part of the one hierarchy of ``app.errors``."""

from __future__ import annotations

from app.errors import NewRemoraError


class ClientError(NewRemoraError):
    """The request could not be made"""


class ServiceUnreachable(ClientError):
    """The service could not be reached"""


class ApiError(ClientError):
    """The service refused the request"""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)
