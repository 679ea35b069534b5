"""Schemas of /api/v1/api-keys."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.directory import api_keys
from app.http.api.schemas.base import Input, Name, Output, OutTime

Scope = Literal["read", "write", "admin"]

assert api_keys.SCOPES == ("read", "write", "admin")


class ApiKeyCreate(Input):
    name: Name
    scope: Scope


class ApiKey(Output):
    id: str
    name: str
    scope: Scope
    created_at: OutTime
    last_used_at: OutTime | None
    revoked_at: OutTime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="the secret: shown only in this response")


class ApiKeyPage(Output):
    items: list[ApiKey]
    next_cursor: str | None
