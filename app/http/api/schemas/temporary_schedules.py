"""Schemas of /api/v1/schedules/<id>/temporary-schedules: hand-made shifts that replace the
schedule's rules during a span."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.base import Input, Output, OutTime, Patch, Time
from app.http.api.schemas.shifts import Shift

# Shifts in one temporary schedule: weeks of hand-made cover, and a body well within MAX_BODY.
MAX_TEMPORARY_SHIFTS = 200


class ShiftIn(Input):
    user_id: UUID
    start: Time
    end: Time


ShiftsIn = Annotated[list[ShiftIn], Field(max_length=MAX_TEMPORARY_SHIFTS)]


class TemporaryScheduleCreate(Input):
    """Checked further by _check_temporary (end after start, shifts within, users exist);
    shifts may overlap (two people on call at once)."""

    start: Time
    end: Time
    shifts: ShiftsIn = []


class TemporarySchedulePatch(Patch):
    """Move the span and/or replace the shifts wholesale; the result must pass POST's checks."""

    start: Time | SkipJsonSchema[None] = None
    end: Time | SkipJsonSchema[None] = None
    shifts: ShiftsIn | SkipJsonSchema[None] = Field(None, description="replaces all the shifts")


class TemporarySchedule(Output):
    id: str
    schedule_id: str
    start: OutTime
    end: OutTime
    shifts: list[Shift]
    created_at: OutTime


class TemporarySchedulePage(Output):
    items: list[TemporarySchedule]
    next_cursor: str | None
