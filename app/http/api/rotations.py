"""/api/v1/rotations: ordered participants handing off on-call duty hourly, daily, weekly, monthly.

"Set the active participant" and "advance" take effect at once and keep the handoff times: they
re-base `start_index` (who is on call at `start`) so that the chosen participant is the one on
call now. The rotation's past shifts are re-computed the same way, so history read back from a
rotation shows its current arrangement, not the one before the change.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import psycopg
from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from app.http.api import pagination
from app.http.api.routing import NotFound, endpoint, transaction
from app.http.api.schemas import (
    Description,
    ErrorBody,
    Input,
    Name,
    Output,
    OutTime,
    PageQuery,
    Patch,
    Query,
    Time,
    TimeZone,
)
from app.oncall import compute, store
from app.oncall.model import Rotation as RotationValue
from app.platform.errors import invalid

TAG = "rotations"
ONE = "/rotations/<uuid:rotation_id>"
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


class RotationPatch(Patch):
    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    type: RotationType | SkipJsonSchema[None] = None
    shift_length: ShiftLength | SkipJsonSchema[None] = None
    start: Time | SkipJsonSchema[None] = None
    time_zone: TimeZone | SkipJsonSchema[None] = None
    participants: Participants | SkipJsonSchema[None] = None


class ActiveIndex(Input):
    index: int = Field(ge=0, description="position in `participants` to put on call now")


class AtQuery(Query):
    at: Time | SkipJsonSchema[None] = Field(None, description="the instant (default: now)")


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


class RotationPage(Output):
    items: list[Rotation]
    next_cursor: str | None


class RotationOnCall(Output):
    rotation_id: str
    at: OutTime
    user_ids: list[str] = Field(description="who is on call (empty before the rotation starts)")


def require_rotation(conn: psycopg.Connection[Any], rotation_id: UUID) -> dict[str, Any]:
    row = store.get_rotation(conn, str(rotation_id))
    if row is None:
        raise NotFound(f"no rotation with id {rotation_id}")
    return row


def _ids(users: list[UUID]) -> list[str]:
    return [str(user) for user in users]


@endpoint("/rotations", "GET", "read", TAG, HTTP_200=RotationPage)
def list_rotations(query: PageQuery) -> RotationPage:
    """List rotations, oldest first."""
    after = pagination.decode_time_cursor(query.cursor)
    with transaction() as conn:
        rows = store.list_rotations(conn, after, query.limit + 1)
    items, next_cursor = pagination.page(
        rows, query.limit, pagination.time_cursor, Rotation.model_validate
    )
    return RotationPage(items=items, next_cursor=next_cursor)


@endpoint("/rotations", "POST", "write", TAG, HTTP_201=Rotation, HTTP_404=ErrorBody)
def create_rotation(json: RotationCreate) -> tuple[Rotation, int]:
    """Create a rotation; the first participant is on call from `start` (unknown users: 404)."""
    fields = json.model_dump(exclude={"participants"}) | {"start_index": 0}
    with transaction() as conn:
        row = store.create_rotation(conn, fields, _ids(json.participants))
    return Rotation.model_validate(row), 201


@endpoint(ONE, "GET", "read", TAG, HTTP_200=Rotation)
def get_rotation(rotation_id: UUID) -> Rotation:
    """Get one rotation with its participants."""
    with transaction() as conn:
        return Rotation.model_validate(require_rotation(conn, rotation_id))


@endpoint(ONE, "PATCH", "write", TAG, HTTP_200=Rotation)
def update_rotation(rotation_id: UUID, json: RotationPatch) -> Rotation:
    """Change a rotation; `participants` replaces the whole ordered list."""
    changes = json.changes()
    participants = changes.pop("participants", None)
    with transaction() as conn:
        current = store.lock_rotation(conn, str(rotation_id))
        if current is None:
            raise NotFound(f"no rotation with id {rotation_id}")
        if participants is not None and current["start_index"] >= len(participants):
            changes["start_index"] = 0  # the position it named is gone
        users = None if participants is None else _ids(participants)
        row = store.update_rotation(conn, str(rotation_id), changes, users)
    return Rotation.model_validate(row)


@endpoint(ONE, "DELETE", "write", TAG, HTTP_204=None)
def delete_rotation(rotation_id: UUID) -> tuple[str, int]:
    """Delete a rotation, and the schedule rules that target it."""
    with transaction() as conn:
        if not store.delete_rotation(conn, str(rotation_id)):
            raise NotFound(f"no rotation with id {rotation_id}")
    return "", 204


def _current_index(rotation: RotationValue, at: datetime) -> int | None:
    """Which position is on call at `at` (None before the rotation starts)."""
    positions = tuple(str(i) for i in range(len(rotation.participants)))
    on_call = compute.rotation_on_call_at(dataclasses.replace(rotation, participants=positions), at)
    return None if on_call is None else int(on_call)


def _make_active(rotation_id: UUID, choose: Any) -> Rotation:
    """Re-base the rotation so that position `choose(current, count)` is on call now."""
    with transaction() as conn:
        row = store.lock_rotation(conn, str(rotation_id))
        if row is None:
            raise NotFound(f"no rotation with id {rotation_id}")
        count = len(row["participants"])
        if count == 0:
            raise invalid("participants", "the rotation has none: add one before changing turns")
        rotation = store.rotation_value(row)
        current = _current_index(rotation, datetime.now(UTC))
        if current is None:  # not started yet: the first shift is the one to change
            current = row["start_index"]
        wanted = choose(current, count)
        start_index = (row["start_index"] + wanted - current) % count
        updated = store.update_rotation(conn, str(rotation_id), {"start_index": start_index}, None)
    return Rotation.model_validate(updated)


@endpoint(ONE + "/advance", "POST", "write", TAG, HTTP_200=Rotation)
def advance_rotation(rotation_id: UUID) -> Rotation:
    """Hand off to the next participant now; later handoffs keep their times."""
    return _make_active(rotation_id, lambda current, count: (current + 1) % count)


@endpoint(ONE + "/active", "POST", "write", TAG, HTTP_200=Rotation)
def set_active_participant(rotation_id: UUID, json: ActiveIndex) -> Rotation:
    """Put the participant at `index` on call now; later handoffs keep their times."""

    def choose(_current: int, count: int) -> int:
        if json.index >= count:
            raise invalid("index", f"must be below {count}, the number of participants")
        return json.index

    return _make_active(rotation_id, choose)


@endpoint(ONE + "/on-call", "GET", "read", TAG, HTTP_200=RotationOnCall)
def rotation_on_call(rotation_id: UUID, query: AtQuery) -> RotationOnCall:
    """Who the rotation has on call now (or `at`)."""
    at = query.at or datetime.now(UTC)
    with transaction() as conn:
        row = require_rotation(conn, rotation_id)
    if not row["participants"]:
        return RotationOnCall(rotation_id=row["id"], at=at, user_ids=[])
    user = compute.rotation_on_call_at(store.rotation_value(row), at)
    return RotationOnCall(rotation_id=row["id"], at=at, user_ids=[] if user is None else [user])
