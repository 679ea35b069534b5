"""Schemas of /api/v1/schedules/<id>/swaps: cover asked for by a person on call, and taken."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.base import DEFAULT_PAGE, Input, Output, OutTime, Query, Time, storable
from app.oncall.swaps import MAX_LIST, MAX_NOTE

SwapStatus = Literal["open", "taken", "withdrawn", "expired"]
Note = Annotated[str, StringConstraints(max_length=MAX_NOTE), AfterValidator(storable)]


class ShiftSwapCreate(Input):
    """Checked further: end after start and in the future, at most 31 days, and the asker on
    call in the schedule for all of it (409 not_on_call otherwise)."""

    start: Time = Field(description="a start in the past is stored as now")
    end: Time
    note: Note = Field("", description="a few words for whoever might take it")


class ShiftSwapQuery(Query):
    status: SwapStatus | SkipJsonSchema[None] = Field(None, description="default: all")
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_LIST)


class ShiftSwap(Output):
    id: str
    schedule_id: str
    requester_id: str
    start: OutTime
    end: OutTime
    note: str
    status: SwapStatus = Field(description="expired: open, but its end has passed")
    taken_by: str | None
    override_id: str | None = Field(description="the replace override taking it created")
    created_at: OutTime
    taken_at: OutTime | None
    withdrawn_at: OutTime | None


class ShiftSwapList(Output):
    items: list[ShiftSwap]
