"""Schemas of /api/v1/schedules/<id>/rules: a schedule's rules, which put a user or a rotation on
call on chosen local weekdays between local times (not a user's notification rules: those are
app.http.api.schemas.notification_rules)."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.base import Input, Output, OutTime, Patch, TimeOfDay
from app.http.api.validation import FieldProblem

Weekday = Annotated[int, Field(ge=0, le=6)]
Weekdays = Annotated[
    list[Weekday], Field(min_length=1, max_length=7, description="0 = Monday … 6 = Sunday")
]
TargetType = Literal["user", "rotation"]  # what a schedule rule puts on call


class RuleCreate(Input):
    target_type: TargetType
    target_id: UUID = Field(description="a user id or a rotation id, per target_type")
    weekdays: Weekdays = [0, 1, 2, 3, 4, 5, 6]
    start_time: TimeOfDay = Field(time(0), description="local time in the schedule's zone")
    end_time: TimeOfDay = Field(time(0), description="before start_time wraps; equal is all day")


class RulePatch(Patch):
    target_type: TargetType | SkipJsonSchema[None] = None
    target_id: UUID | SkipJsonSchema[None] = None
    weekdays: Weekdays | SkipJsonSchema[None] = None
    start_time: TimeOfDay | SkipJsonSchema[None] = None
    end_time: TimeOfDay | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _target_together(self) -> RulePatch:
        if (self.target_type is None) != (self.target_id is None):
            missing = "target_id" if self.target_id is None else "target_type"
            raise FieldProblem(missing, "target_type and target_id change together: send both")
        return self


class Rule(Output):
    id: str
    schedule_id: str
    target_type: TargetType
    target_id: str
    weekdays: list[int]
    start_time: time
    end_time: time
    created_at: OutTime


class RulePage(Output):
    items: list[Rule]
    next_cursor: str | None
