"""The one exception hierarchy of NewRemora.

Each class's docstring is its default message. Nothing here knows about HTTP: ``app.api.errors`` maps
these classes to status codes, in one place.
"""

from __future__ import annotations

from typing import ClassVar


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


class SecretUnreadable(Conflict):
    """A stored secret cannot be decrypted with this process's key: NEWREMORA_SECRET_KEY (or the key file) is not
    the key that encrypted it"""

    # A job (or connectivity check) that needs such a secret ends with this failure_reason: the key, not the job,
    # is wrong.
    failure_reason: ClassVar[str] = "secret_unreadable"


class KeyMismatch(ConfigurationError):
    """This process's key is not the deployment's: set NEWREMORA_SECRET_KEY to the key its other processes use"""


class UnsupportedMediaType(NewRemoraError):
    """Unsupported media type"""


class PayloadTooLarge(NewRemoraError):
    """Request body too large"""


class TooManyRequests(NewRemoraError):
    """Too many requests"""

    def __init__(self, message: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message)
        # Seconds until the next request may pass (the answer's Retry-After).
        self.retry_after = retry_after


class DatabaseUnavailable(NewRemoraError):
    """Database unavailable"""


class DatabaseUnwritable(DatabaseUnavailable):
    """Database unwritable: no space left on device (the disk holding the database is full); retry once space is
    freed"""


class Unauthorized(NewRemoraError):
    """A valid API key is required: send Authorization: Bearer <key>"""


class Forbidden(NewRemoraError):
    """Forbidden"""


class IdentityProviderUnavailable(NewRemoraError):
    """The OpenID Connect provider could not be reached (discovery or its keys): try again shortly"""


class MetricsUnauthorized(Unauthorized):
    """A valid metrics token is required: send Authorization: Bearer <NEWREMORA_METRICS_TOKEN>"""
