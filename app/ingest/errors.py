"""Ingest's client errors: the shared JSON-envelope errors, marked as ingest's own so the
ingest blueprint can tell a sender's mistake from anything else."""

from __future__ import annotations

from app.platform import errors


class IngestError(errors.ApiError):
    """A 4xx answer from an ingest endpoint."""


class BadRequest(IngestError, errors.BadRequest):
    pass


class Unauthorized(IngestError, errors.Unauthorized):
    """No key, or a key that proves nothing. Never says which, never echoes the token."""

    headers = {"WWW-Authenticate": 'Bearer realm="klaxon ingest"'}


class NotFound(IngestError, errors.NotFound):
    pass


class UnsupportedMediaType(IngestError, errors.UnsupportedMediaType):
    pass
