"""Schemas of a schedule's computed shifts and who it has on call: /schedules/<id>/shifts,
…/on-call and /users/<id>/on-call-next (a Shift is also a temporary schedule's part)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.base import Output, OutTime, Query, Time

NEXT_SHIFT_HORIZON = timedelta(days=90)  # "when am I on call next" looks this far ahead


class Shift(Output):
    user_id: str
    start: OutTime
    end: OutTime


class RangeQuery(Query):
    start: Time | SkipJsonSchema[None] = Field(None, description="default: now")
    end: Time | SkipJsonSchema[None] = Field(None, description="default: start + 7 days")


class ShiftPage(Output):
    items: list[Shift]
    next_cursor: str | None = Field(description="always null: a range is answered whole")
    start: OutTime
    end: OutTime


class ScheduleOnCall(Output):
    schedule_id: str
    at: OutTime
    user_ids: list[str]


class NextShift(Output):
    schedule_id: str
    start: OutTime
    end: OutTime


class UserNextShift(Output):
    user_id: str
    shift: NextShift | None = Field(
        description=f"null: none in the next {NEXT_SHIFT_HORIZON.days} days"
    )
