"""The one exception hierarchy of NewRemora.

Each class's docstring is its default message. Nothing here knows about HTTP: ``app.api.errors`` maps
these classes to status codes, in one place.
"""

from __future__ import annotations


class NewRemoraError(Exception):
    """Internal error"""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        super().__init__(self.message)


class ConfigurationError(NewRemoraError):
    """Invalid configuration"""


class InvalidInput(NewRemoraError):
    """Invalid request"""


class NotFound(NewRemoraError):
    """Resource not found"""


class Conflict(NewRemoraError):
    """The request conflicts with the current state of the resource"""


class PayloadTooLarge(NewRemoraError):
    """Request body too large"""


class DatabaseUnavailable(NewRemoraError):
    """Database unavailable"""


class Unauthorized(NewRemoraError):
    """A valid API key is required: send Authorization: Bearer <key>"""


class MetricsUnauthorized(Unauthorized):
    """A valid metrics token is required: send Authorization: Bearer <NEWREMORA_METRICS_TOKEN>"""
