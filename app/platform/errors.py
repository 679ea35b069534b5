"""One JSON error envelope for every error response: {"error", "code", "details", "request_id"}."""

from __future__ import annotations

from typing import Any, ClassVar

import structlog
from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException

from app.platform.pool import Unavailable

log = structlog.get_logger(__name__)

RETRY_AFTER_SECONDS = 5  # what a 503 tells senders (Alertmanager, Grafana) to wait


class ApiError(Exception):
    """An error a client can act on; `status` is the HTTP status to answer with."""

    status = 400
    code = "bad_request"
    headers: ClassVar[dict[str, str]] = {}  # added to the response

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class BadRequest(ApiError):
    @classmethod
    def field(cls, name: str, problem: str, **details: Any) -> BadRequest:
        """`<name> <problem>`, with the field named in details too, for programs."""
        return cls(f"{name} {problem}", {"field": name, **details})


class MalformedBody(ApiError):
    status = 400
    code = "malformed_json"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"


class ValidationFailed(ApiError):
    """A 422 naming each bad field: `details.errors[]` of {"field", "message", "type"}, where
    `field` is the name the client used (a query parameter, a body property, `steps.0.id`)."""

    status = 422
    code = "validation_failed"

    @classmethod
    def of(cls, problems: list[dict[str, str]]) -> ValidationFailed:
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        return cls(f"invalid request: {summary}", {"errors": problems})


def invalid(field: str, message: str) -> ValidationFailed:
    """A 422 about one field, in the same shape as the schema's own (app.http.api.validation)."""
    return ValidationFailed.of([{"field": field, "message": message, "type": "value_error"}])


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Response:
    response = jsonify(
        {
            "error": message,
            "code": code,
            "details": details or {},
            "request_id": getattr(g, "request_id", None),
        }
    )
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(Unavailable)
    def _unavailable(exc: Unavailable) -> Response:
        response = error_response(
            503, "unavailable", f"temporarily unavailable, retry shortly ({exc})"
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        for header in ("Retry-After", "Allow"):
            if exc.get_response().headers.get(header):
                response.headers[header] = exc.get_response().headers[header]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("request_failed")
        return error_response(500, "internal_error", "internal error; see the server log")
