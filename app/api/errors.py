"""The single mapping from errors to HTTP responses in the error envelope."""

from __future__ import annotations

import logging
from typing import Final

from pydantic import ValidationError
from quart import Quart, Response, jsonify
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from app import errors
from app.logs import request_id_var
from app.schemas.common import ErrorEnvelope

log = logging.getLogger(__name__)

STATUS_BY_ERROR: Final[dict[type[errors.NewRemoraError], int]] = {
    errors.InvalidInput: 400,
    errors.Unauthorized: 401,
    errors.IdentityProviderUnavailable: 503,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.TooManyRequests: 429,
    errors.DatabaseUnavailable: 503,
}

HTTP_MESSAGES: Final = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    429: "Too many requests",
    415: "Unsupported media type",
}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = ErrorEnvelope(error=message, request_id=request_id_var.get()).model_dump(mode="json")
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def describe_validation_error(error: ValidationError | Exception) -> str:
    """``field: problem`` for each problem; never the offending value (it may be a password)."""
    if not isinstance(error, ValidationError):
        return "request body: must be a JSON object"
    parts = []
    for problem in error.errors(include_url=False, include_input=False):
        message = str(problem["msg"]).removeprefix("Value error, ")
        location = ".".join(str(item) for item in problem["loc"])
        if not location and problem["type"] in ("model_type", "model_attributes_type", "dict_type"):
            return "request body: must be a JSON object (Content-Type: application/json)"
        if problem["type"] == "missing":
            message = "is required"
        elif problem["type"] == "extra_forbidden":
            message = "is not a known field"
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "invalid request"


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(errors.NewRemoraError)
    async def known_error(error: errors.NewRemoraError) -> Response:
        status = STATUS_BY_ERROR.get(type(error))
        if status is None:
            status = next((code for cls, code in STATUS_BY_ERROR.items() if isinstance(error, cls)), 500)
        # A full disk is logged once per change of state (app/db.py, Writability), not once per refused request.
        if status >= 500 and not isinstance(error, errors.DatabaseUnwritable):
            log.warning("%s: %s (cause: %s)", type(error).__name__, error.message, error.__cause__)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(error, errors.TooManyRequests):
            headers = {"Retry-After": str(error.retry_after)}
        return error_response(status, error.message if status != 500 else "Internal server error", headers)

    @app.errorhandler(RequestSchemaValidationError)
    async def invalid_request(error: RequestSchemaValidationError) -> Response:
        return error_response(400, describe_validation_error(error.validation_error))

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        message = HTTP_MESSAGES.get(status, error.name)
        headers = {k: v for k, v in error.get_headers() if k.lower() in ("allow", "retry-after")}
        if status == 429:
            message = f"Too many requests: retry in {headers.get('Retry-After', 'a few')} seconds"
        return error_response(status, message, headers)

    @app.errorhandler(Exception)
    async def unexpected_error(error: Exception) -> Response:
        # The stack trace goes to the log under the request id, never to the client.
        log.error("unhandled error", exc_info=error)
        return error_response(500, "Internal server error")
