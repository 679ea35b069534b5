"""Schemas of /api/v1/audit: the audit log of configuration changes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from app.audit.context import ACTOR_TYPES
from app.http.api.schemas.base import Id, Output, OutTime, PageQuery, Time, one_line

ActorType = Literal["user", "api_key", "system"]
assert ACTOR_TYPES == ("user", "api_key", "system")

Token = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(one_line)]


class AuditQuery(PageQuery):
    actor_type: ActorType | SkipJsonSchema[None] = None
    actor_id: Token | SkipJsonSchema[None] = Field(
        None, description="a user's or API key's id, or a system actor's name"
    )
    target_type: Token | SkipJsonSchema[None] = Field(
        None, description="the target's table, e.g. services, users, contact_methods"
    )
    target_id: Token | SkipJsonSchema[None] = None
    since: Time | SkipJsonSchema[None] = Field(None, description="at or after this time")
    until: Time | SkipJsonSchema[None] = Field(None, description="before this time")


class AuditChange(Output):
    table: str
    op: Literal["insert", "update", "delete"]
    id: str | None = Field(description="the row's id (key columns joined by '/')")
    before: dict[str, Any] | None = Field(description="update: changed columns; delete: the row")
    after: dict[str, Any] | None = Field(description="update: changed columns; insert: the row")
    redacted: list[str] = Field(description="secret columns set or changed; never their values")


class AuditEvent(Output):
    id: Id
    at: OutTime
    actor_type: ActorType
    actor_id: str | None
    action: str = Field(description="the API operation (e.g. update_service) or command")
    target_type: str
    target_id: str | None
    changes: list[AuditChange] = Field(description="the changed rows, in order (at most 200)")
    change_count: int = Field(description="how many rows changed (changes holds the first 200)")


class AuditPage(Output):
    items: list[AuditEvent]
    next_cursor: str | None
