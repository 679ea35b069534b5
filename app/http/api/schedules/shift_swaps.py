"""/api/v1/schedules/<id>/swaps: a person on call asks for cover for part or all of a shift;
another person takes it (a replace override is created with it, in one transaction), or the
asker withdraws it while it is open.

Asking and taking need a person (USERS: a session or a personal key; a team or service key is
403): the asker for their own shift, the taker anyone but the asker — no schedule membership is
needed, since cover often comes from outside the rotation, and the override shows who covers.
Withdrawing is for the asker, or TEAM (SWAP_OWNER). Each step queues messages to the schedule's
notice channel and members (app.oncall.swap_notices) in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg

from app.http.api.routing import endpoint, settings, transaction
from app.http.api.schedules.shared import ONE, TAG, require_schedule
from app.http.api.schemas.base import ErrorBody
from app.http.api.schemas.shift_swaps import (
    ShiftSwap,
    ShiftSwapCreate,
    ShiftSwapList,
    ShiftSwapQuery,
)
from app.http.auth import identity
from app.http.permissions import SWAP_OWNER, USERS
from app.oncall import swap_notices, swaps
from app.platform.errors import NotFound

SWAPS = ONE + "/swaps"
SWAP = SWAPS + "/<uuid:swap_id>"


def told(
    conn: psycopg.Connection[Any], swap: dict[str, Any], event: str, actor: str | None
) -> None:
    """Queue the step's messages (the web pages' forms call this too)."""
    config = settings()
    swap_notices.tell(
        conn, swap, event, actor,
        public_url=config.public_url, max_attempts=config.delivery.max_attempts,
    )  # fmt: skip


def ask(schedule_id: str, user_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Ask for cover as `user_id` and tell the schedule; the stored swap."""
    now = datetime.now(UTC)
    with transaction() as conn:
        require_schedule(conn, UUID(schedule_id))
        span = (fields["start"], fields["end"])
        swap = swaps.request_swap(conn, schedule_id, user_id, span, fields["note"], now)
        told(conn, swap, "requested", user_id)
    return swap


def take(schedule_id: str, swap_id: str, user_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    with transaction() as conn:
        swap = swaps.take_swap(conn, schedule_id, swap_id, user_id, now)
        told(conn, swap, "taken", user_id)
    return {**swap, "status": swaps.status_of(swap, now)}


def withdraw(schedule_id: str, swap_id: str, user_id: str | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    with transaction() as conn:
        swap = swaps.withdraw_swap(conn, schedule_id, swap_id, now)
        told(conn, swap, "withdrawn", user_id)
    return {**swap, "status": swaps.status_of(swap, now)}


def _user() -> str:
    user_id = identity().user_id
    assert user_id is not None  # the USERS rule let only a person through
    return user_id


@endpoint(SWAPS, "GET", "read", TAG, HTTP_200=ShiftSwapList)
def list_shift_swaps(schedule_id: UUID, query: ShiftSwapQuery) -> ShiftSwapList:
    """A schedule's shift swaps: open ones first (soonest first), then the rest (newest first)."""
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        rows = swaps.list_swaps(
            conn, str(schedule_id), datetime.now(UTC), query.limit, query.status
        )
    return ShiftSwapList(items=[ShiftSwap.model_validate(row) for row in rows])


@endpoint(SWAPS, "POST", "write", TAG, HTTP_201=ShiftSwap, allow=USERS)
def create_shift_swap(schedule_id: UUID, json: ShiftSwapCreate) -> tuple[ShiftSwap, int]:
    """Ask for cover during [start, end), which you must be on call for (409 not_on_call)."""
    swap = ask(str(schedule_id), _user(), json.model_dump())
    return ShiftSwap.model_validate(swap), 201


@endpoint(SWAP, "GET", "read", TAG, HTTP_200=ShiftSwap)
def get_shift_swap(schedule_id: UUID, swap_id: UUID) -> ShiftSwap:
    """Get one shift swap."""
    with transaction() as conn:
        row = swaps.get_swap(conn, str(schedule_id), str(swap_id))
    if row is None:
        raise NotFound(f"no shift swap with id {swap_id} in schedule {schedule_id}")
    return ShiftSwap.model_validate({**row, "status": swaps.status_of(row, datetime.now(UTC))})


@endpoint(SWAP + "/take", "POST", "write", TAG, HTTP_200=ShiftSwap, HTTP_409=ErrorBody, allow=USERS)
def take_shift_swap(schedule_id: UUID, swap_id: UUID) -> ShiftSwap:
    """Cover it: a replace override (asker -> you) for its span; 409 unless it is open."""
    return ShiftSwap.model_validate(take(str(schedule_id), str(swap_id), _user()))


@endpoint(
    SWAP + "/withdraw", "POST", "write", TAG, HTTP_200=ShiftSwap, HTTP_409=ErrorBody,
    allow=SWAP_OWNER,
)  # fmt: skip
def withdraw_shift_swap(schedule_id: UUID, swap_id: UUID) -> ShiftSwap:
    """Withdraw it while it is open (409 after it was taken, withdrawn, or has expired)."""
    swap = withdraw(str(schedule_id), str(swap_id), identity().user_id)
    return ShiftSwap.model_validate(swap)
