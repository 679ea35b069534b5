"""Schemas of /api/v1/api-keys."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field, model_validator

from app.directory import api_keys
from app.http.api.schemas.base import Input, Name, Output, OutTime

Scope = Literal["read", "write", "admin"]

assert api_keys.SCOPES == ("read", "write", "admin")


class ApiKeyCreate(Input):
    name: Name
    scope: Scope
    owner_user_id: uuid.UUID | None = Field(
        None, description="a personal key: yours; it acts as you, its scope capping yours"
    )
    owner_team_id: uuid.UUID | None = Field(
        None, description="a team key: it acts for this team like a manager (scope ≤ write)"
    )

    @model_validator(mode="after")
    def _one_owner(self) -> ApiKeyCreate:
        if self.owner_user_id is not None and self.owner_team_id is not None:
            raise ValueError("give owner_user_id or owner_team_id, not both")
        if self.owner_team_id is not None and self.scope == "admin":
            raise ValueError("a team key has scope read or write")
        return self


class ApiKey(Output):
    id: str
    name: str
    scope: Scope
    owner_user_id: str | None = Field(description="a personal key's user")
    owner_team_id: str | None = Field(description="a team key's team (neither: a service key)")
    created_at: OutTime
    last_used_at: OutTime | None
    revoked_at: OutTime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="the secret: shown only in this response")


class ApiKeyPage(Output):
    items: list[ApiKey]
    next_cursor: str | None
