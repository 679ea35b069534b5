"""Schemas of /api/v1/schedules/<id>/overrides: a user added, removed or replaced for a span."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.base import Input, Output, OutTime, Patch, Time

OverrideKind = Literal["add", "remove", "replace"]
# Which kinds of override take which user.
OVERRIDE_USERS = {"add_user_id": ("add", "replace"), "remove_user_id": ("remove", "replace")}
ADD_USER = "for add and replace"
REMOVE_USER = "for remove and replace"


class OverrideCreate(Input):
    """Checked further by _check_override (end after start, the users the kind needs exist)."""

    kind: OverrideKind
    add_user_id: UUID | None = Field(None, description=ADD_USER)
    remove_user_id: UUID | None = Field(None, description=REMOVE_USER)
    start: Time
    end: Time


class OverridePatch(Patch):
    """The change is merged into the stored override, which must then pass POST's checks: a
    change of kind sends the users it needs and nulls the one it no longer takes."""

    NULLABLE = frozenset({"add_user_id", "remove_user_id"})

    kind: OverrideKind | SkipJsonSchema[None] = None
    add_user_id: UUID | None = Field(None, description=ADD_USER + " (null: none)")
    remove_user_id: UUID | None = Field(None, description=REMOVE_USER + " (null: none)")
    start: Time | SkipJsonSchema[None] = None
    end: Time | SkipJsonSchema[None] = None


class Override(Output):
    id: str
    schedule_id: str
    kind: OverrideKind
    add_user_id: str | None
    remove_user_id: str | None
    start: OutTime
    end: OutTime
    created_at: OutTime


class OverridePage(Output):
    items: list[Override]
    next_cursor: str | None
