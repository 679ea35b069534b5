"""Schemas of /api/v1/schedules and /schedules/<id>: the schedule itself (its rules, overrides,
temporary schedules, shifts and feeds have modules of their own)."""

from __future__ import annotations

import uuid
from uuid import UUID

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.base import Description, Input, Name, Output, OutTime, Patch, TimeZone

NOTICE_CHANNEL = "a notification channel told who is on call at each shift change"


class ScheduleCreate(Input):
    name: Name
    description: Description = ""
    time_zone: TimeZone
    notice_channel_id: UUID | None = Field(None, description=NOTICE_CHANNEL)
    team_id: uuid.UUID | None = Field(
        None, description="the owning team: its managers change this (only admins may omit it)"
    )


class SchedulePatch(Patch):
    NULLABLE = frozenset({"team_id", "notice_channel_id"})

    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    time_zone: TimeZone | SkipJsonSchema[None] = None
    notice_channel_id: UUID | None = Field(None, description=NOTICE_CHANNEL + " (null: none)")
    team_id: uuid.UUID | None = Field(
        None, description="move to another team (managing both); null: no team (admins only)"
    )


class Schedule(Output):
    id: str
    name: str
    description: str
    time_zone: str
    notice_channel_id: str | None = Field(description=NOTICE_CHANNEL)
    created_at: OutTime
    updated_at: OutTime
    team_id: str | None = Field(description="the owning team (null: no team, admins only)")


class SchedulePage(Output):
    items: list[Schedule]
    next_cursor: str | None
