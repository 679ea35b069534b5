"""Ingest's client errors: each is an ApiError (JSON envelope) that may carry response headers."""

from __future__ import annotations

from typing import Any

from app.errors import ApiError


class IngestError(ApiError):
    """A 4xx answer from an ingest endpoint; `headers` are added to the response."""

    headers: dict[str, str] = {}


class BadRequest(IngestError):
    status = 400
    code = "bad_request"

    @classmethod
    def field(cls, name: str, problem: str, **details: Any) -> BadRequest:
        """`<name> <problem>`, with the field named in details too, for programs."""
        return cls(f"{name} {problem}", {"field": name, **details})


class Unauthorized(IngestError):
    """No key, or a key that proves nothing. Never says which, never echoes the token."""

    status = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="klaxon ingest"'}


class NotFound(IngestError):
    status = 404
    code = "not_found"


class PayloadTooLarge(IngestError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(IngestError):
    status = 415
    code = "unsupported_media_type"
