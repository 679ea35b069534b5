"""Schemas of /api/v1/escalation-policies: policies with their ordered steps and targets."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StrictInt, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.base import MAX_DELAY, Description, Input, Name, Output, OutTime, Patch
from app.http.api.validation import FieldProblem

MAX_STEPS = 20  # steps in one policy: an escalation chain, not a directory
MAX_TARGETS = 20  # targets in one step

TargetType = Literal["user", "schedule", "rotation", "channel"]


class TargetIn(Input):
    type: TargetType
    id: UUID


class StepIn(Input):
    delay_minutes: StrictInt = Field(
        ge=1, le=MAX_DELAY, description="minutes from this step firing to the next one"
    )
    targets: list[TargetIn] = Field(min_length=1, max_length=MAX_TARGETS)

    @model_validator(mode="after")
    def _distinct(self) -> StepIn:
        seen = {(t.type, t.id) for t in self.targets}
        if len(seen) != len(self.targets):
            raise FieldProblem("targets", "must not repeat within a step")
        return self


Steps = Annotated[list[StepIn], Field(max_length=MAX_STEPS, description="in firing order")]
RepeatCount = Annotated[
    StrictInt,
    Field(ge=0, le=20, description="how many more times the steps run after the first pass"),
]


class PolicyCreate(Input):
    name: Name
    description: Description = ""
    repeat_count: RepeatCount = 0
    steps: Steps = []
    team_id: uuid.UUID | None = Field(
        None, description="the owning team: its managers change this (only admins may omit it)"
    )


class PolicyPatch(Patch):
    NULLABLE = frozenset({"team_id"})

    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    repeat_count: RepeatCount | SkipJsonSchema[None] = None
    steps: Steps | SkipJsonSchema[None] = Field(None, description="replaces every step")
    team_id: uuid.UUID | None = Field(
        None, description="move to another team (managing both); null: no team (admins only)"
    )


class Target(Output):
    type: TargetType
    id: str
    name: str


class Step(Output):
    id: str
    position: int
    delay_minutes: int
    targets: list[Target]


class Policy(Output):
    id: str
    name: str
    description: str
    repeat_count: int
    steps: list[Step]
    created_at: OutTime
    updated_at: OutTime
    team_id: str | None = Field(description="the owning team (null: no team, admins only)")


class PolicyPage(Output):
    items: list[Policy]
    next_cursor: str | None
