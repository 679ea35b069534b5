"""/api/v1/rotations: ordered participants handing off on-call duty hourly, daily, weekly, monthly.

"Set the active participant" and "advance" take effect at once and keep the handoff times: they
re-base `start_index` (who is on call at `start`) so that the chosen participant is the one on
call now. The rotation's past shifts are re-computed the same way, so history read back from a
rotation shows its current arrangement, not the one before the change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg

from app.http.api import listing
from app.http.api.routing import NotFound, endpoint, transaction
from app.http.api.schemas.base import AtQuery, ErrorBody, PageQuery
from app.http.api.schemas.rotations import (
    ActiveIndex,
    Rotation,
    RotationCreate,
    RotationOnCall,
    RotationPage,
    RotationPatch,
)
from app.http.permissions import TEAM, TEAM_CREATE, TEAM_MOVE
from app.oncall import compute, handoffs
from app.oncall import rotations as stored_rotations
from app.platform.errors import invalid

TAG = "rotations"
ONE = "/rotations/<uuid:rotation_id>"


def require_rotation(conn: psycopg.Connection[Any], rotation_id: UUID) -> dict[str, Any]:
    row = stored_rotations.get_rotation(conn, str(rotation_id))
    if row is None:
        raise NotFound(f"no rotation with id {rotation_id}")
    return row


def _ids(users: list[UUID]) -> list[str]:
    return [str(user) for user in users]


@endpoint("/rotations", "GET", "read", TAG, HTTP_200=RotationPage)
def list_rotations(query: PageQuery) -> RotationPage:
    """List rotations, oldest first."""
    return listing.oldest_first(
        query, stored_rotations.list_rotations, Rotation.model_validate, RotationPage
    )


@endpoint(
    "/rotations", "POST", "write", TAG, HTTP_201=Rotation, HTTP_404=ErrorBody, allow=TEAM_CREATE
)
def create_rotation(json: RotationCreate) -> tuple[Rotation, int]:
    """Create a rotation; the first participant is on call from `start` (unknown users: 404)."""
    fields = json.model_dump(exclude={"participants"}) | {"start_index": 0}
    with transaction() as conn:
        row = stored_rotations.create_rotation(conn, fields, _ids(json.participants))
    return Rotation.model_validate(row), 201


@endpoint(ONE, "GET", "read", TAG, HTTP_200=Rotation)
def get_rotation(rotation_id: UUID) -> Rotation:
    """Get one rotation with its participants."""
    with transaction() as conn:
        return Rotation.model_validate(require_rotation(conn, rotation_id))


@endpoint(ONE, "PATCH", "write", TAG, HTTP_200=Rotation, allow=TEAM_MOVE)
def update_rotation(rotation_id: UUID, json: RotationPatch) -> Rotation:
    """Change a rotation; `participants` replaces the whole ordered list."""
    changes = json.changes()
    participants = changes.pop("participants", None)
    users = None if participants is None else _ids(participants)
    with transaction() as conn:
        row = change_rotation(conn, rotation_id, changes, users)
    return Rotation.model_validate(row)


def change_rotation(
    conn: psycopg.Connection[Any],
    rotation_id: UUID,
    changes: dict[str, Any],
    participants: list[str] | None,
) -> dict[str, Any]:
    """Apply validated `changes` and, if given, the new ordered participants (user ids); the
    web app's rotation forms change a rotation through this too."""
    current = stored_rotations.lock_rotation(conn, str(rotation_id))
    if current is None:
        raise NotFound(f"no rotation with id {rotation_id}")
    if participants is not None and current["start_index"] >= len(participants):
        changes = {**changes, "start_index": 0}  # the position it named is gone
    row = stored_rotations.update_rotation(conn, str(rotation_id), changes, participants)
    assert row is not None  # locked above
    return row


@endpoint(ONE, "DELETE", "write", TAG, HTTP_204=None, allow=TEAM)
def delete_rotation(rotation_id: UUID) -> tuple[str, int]:
    """Delete a rotation, and the schedule rules that target it."""
    with transaction() as conn:
        if not stored_rotations.delete_rotation(conn, str(rotation_id)):
            raise NotFound(f"no rotation with id {rotation_id}")
    return "", 204


Choose = Callable[[int, int], int]  # (position on call now, participants) -> position wanted


def make_active(conn: psycopg.Connection[Any], rotation_id: UUID, choose: Choose) -> dict[str, Any]:
    """Re-base the rotation so that position `choose(current, count)` is on call now (in the
    caller's transaction; the web app's advance, set-current and reorder use it too)."""
    row = stored_rotations.lock_rotation(conn, str(rotation_id))
    if row is None:
        raise NotFound(f"no rotation with id {rotation_id}")
    count = len(row["participants"])
    if count == 0:
        raise invalid("participants", "the rotation has none: add one before changing turns")
    current = handoffs.position_at(stored_rotations.rotation_value(row), datetime.now(UTC))
    if current is None:  # not started yet: the first shift is the one to change
        current = row["start_index"]
    wanted = choose(current, count)
    start_index = (row["start_index"] + wanted - current) % count
    updated = stored_rotations.update_rotation(
        conn, str(rotation_id), {"start_index": start_index}, None
    )
    assert updated is not None  # locked above
    return updated


def _make_active(rotation_id: UUID, choose: Choose) -> Rotation:
    with transaction() as conn:
        return Rotation.model_validate(make_active(conn, rotation_id, choose))


@endpoint(ONE + "/advance", "POST", "write", TAG, HTTP_200=Rotation, allow=TEAM)
def advance_rotation(rotation_id: UUID) -> Rotation:
    """Hand off to the next participant now; later handoffs keep their times."""
    return _make_active(rotation_id, lambda current, count: (current + 1) % count)


@endpoint(ONE + "/active", "POST", "write", TAG, HTTP_200=Rotation, allow=TEAM)
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
    user = compute.rotation_on_call_at(stored_rotations.rotation_value(row), at)
    return RotationOnCall(rotation_id=row["id"], at=at, user_ids=[] if user is None else [user])
