"""Schemas of /api/v1/rotations: a rotation, its participants, and who it has on call."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.base import (
    Description,
    Input,
    Name,
    Output,
    OutTime,
    Patch,
    Time,
    TimeZone,
)

MAX_PARTICIPANTS = 200  # positions in one rotation: a team, not a directory
RotationType = Literal["hourly", "daily", "weekly", "monthly"]
ShiftLength = Annotated[int, Field(ge=1, le=1000, description="units of `type` per shift")]
Participants = Annotated[
    list[UUID],
    Field(
        min_length=1,
        max_length=MAX_PARTICIPANTS,
        description="user ids in handoff order; a user may appear more than once",
    ),
]


class RotationCreate(Input):
    name: Name
    description: Description = ""
    type: RotationType
    shift_length: ShiftLength = 1
    start: Time = Field(description="the first handoff; later ones keep its local wall time")
    time_zone: TimeZone
    participants: Participants
    team_id: uuid.UUID | None = Field(
        None, description="the owning team: its managers change this (only admins may omit it)"
    )


class RotationPatch(Patch):
    NULLABLE = frozenset({"team_id"})

    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    type: RotationType | SkipJsonSchema[None] = None
    shift_length: ShiftLength | SkipJsonSchema[None] = None
    start: Time | SkipJsonSchema[None] = None
    time_zone: TimeZone | SkipJsonSchema[None] = None
    participants: Participants | SkipJsonSchema[None] = None
    team_id: uuid.UUID | None = Field(
        None, description="move to another team (managing both); null: no team (admins only)"
    )


class ActiveIndex(Input):
    index: int = Field(ge=0, description="position in `participants` to put on call now")


class Rotation(Output):
    id: str
    name: str
    description: str
    type: RotationType
    shift_length: int
    start: OutTime
    start_index: int = Field(description="position in `participants` on call at `start`")
    time_zone: str
    participants: list[str]
    created_at: OutTime
    updated_at: OutTime
    team_id: str | None = Field(description="the owning team (null: no team, admins only)")


class RotationPage(Output):
    items: list[Rotation]
    next_cursor: str | None


class RotationOnCall(Output):
    rotation_id: str
    at: OutTime
    user_ids: list[str] = Field(description="who is on call (empty before the rotation starts)")
