"""/api/v1/schedules/<id>/temporary-schedules: hand-made shifts that replace the schedule's rules
entirely during their span; of two starting together, the newer wins."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from app.http.api import listing
from app.http.api.routing import endpoint, transaction
from app.http.api.schedules.shared import ONE, TAG, check_users, not_found, require_schedule
from app.http.api.schemas.base import PageQuery
from app.http.api.schemas.temporary_schedules import (
    ShiftIn,
    TemporarySchedule,
    TemporaryScheduleCreate,
    TemporarySchedulePage,
    TemporarySchedulePatch,
)
from app.http.permissions import TEAM
from app.oncall import temporary_schedules as stored_temporaries
from app.platform.errors import invalid

TEMPORARIES = ONE + "/temporary-schedules"
TEMPORARY = TEMPORARIES + "/<uuid:temporary_id>"


def _check_temporary(
    conn: psycopg.Connection[Any],
    start: datetime,
    end: datetime,
    shifts: list[dict[str, Any]],
    kept: bool = False,
) -> None:
    """What a temporary schedule must be, as 422s naming the field: end after start, each
    shift non-empty and within [start, end), each shift's user existing. Shifts may overlap.
    `kept`: the shifts are the stored ones, which a PATCH moving the span did not replace."""
    if end <= start:
        raise invalid("end", "must be after start")
    if kept:
        if any(not start <= s["start"] < s["end"] <= end for s in shifts):
            message = "a kept shift would lie outside the new start and end: send shifts too"
            raise invalid("shifts", message)
        return
    for n, shift in enumerate(shifts):
        if shift["end"] <= shift["start"]:
            raise invalid(f"shifts.{n}.end", "must be after the shift's start")
        if not start <= shift["start"] < shift["end"] <= end:
            raise invalid(f"shifts.{n}", "must lie within the temporary schedule's start and end")
    check_users(conn, {f"shifts.{n}.user_id": s["user_id"] for n, s in enumerate(shifts)})


def _shift_rows(shifts: list[ShiftIn]) -> list[dict[str, Any]]:
    return [{**s.model_dump(), "user_id": str(s.user_id)} for s in shifts]


@endpoint(TEMPORARIES, "GET", "read", TAG, HTTP_200=TemporarySchedulePage)
def list_temporary_schedules(schedule_id: UUID, query: PageQuery) -> TemporarySchedulePage:
    """List a schedule's temporary schedules, oldest first."""
    return listing.oldest_first(
        query,
        lambda conn, after, limit: stored_temporaries.list_temporary_schedules(
            conn, str(schedule_id), after, limit
        ),
        TemporarySchedule.model_validate,
        TemporarySchedulePage,
        parent=lambda conn: require_schedule(conn, schedule_id),
    )


@endpoint(TEMPORARIES, "POST", "write", TAG, HTTP_201=TemporarySchedule, allow=TEAM)
def create_temporary_schedule(
    schedule_id: UUID, json: TemporaryScheduleCreate
) -> tuple[TemporarySchedule, int]:
    """Replace the schedule's rules during [start, end) with these shifts (none: nobody)."""
    return TemporarySchedule.model_validate(add_temporary(schedule_id, json)), 201


def add_temporary(schedule_id: UUID, body: TemporaryScheduleCreate) -> dict[str, Any]:
    """Store a checked temporary schedule (POST …/temporary-schedules, and the schedule page)."""
    shifts = _shift_rows(body.shifts)
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        _check_temporary(conn, body.start, body.end, shifts)
        return stored_temporaries.create_temporary_schedule(
            conn, str(schedule_id), body.start, body.end, shifts
        )


@endpoint(TEMPORARY, "GET", "read", TAG, HTTP_200=TemporarySchedule)
def get_temporary_schedule(schedule_id: UUID, temporary_id: UUID) -> TemporarySchedule:
    """Get one temporary schedule with its shifts."""
    with transaction() as conn:
        row = stored_temporaries.get_temporary_schedule(conn, str(schedule_id), str(temporary_id))
    if row is None:
        raise not_found("temporary schedule", temporary_id, schedule_id)
    return TemporarySchedule.model_validate(row)


@endpoint(TEMPORARY, "PATCH", "write", TAG, HTTP_200=TemporarySchedule, allow=TEAM)
def update_temporary_schedule(
    schedule_id: UUID, temporary_id: UUID, json: TemporarySchedulePatch
) -> TemporarySchedule:
    """Move its span and/or replace its shifts wholesale, in one transaction; the result is
    checked as POST checks it (kept shifts must fit a moved span: else send shifts too)."""
    return TemporarySchedule.model_validate(change_temporary(schedule_id, temporary_id, json))


def change_temporary(
    schedule_id: UUID, temporary_id: UUID, json: TemporarySchedulePatch
) -> dict[str, Any]:
    """Store a temporary schedule's checked changes (404 when the schedule has no such one)."""
    shifts = None if json.shifts is None else _shift_rows(json.shifts)
    with transaction() as conn:
        stored = stored_temporaries.lock_temporary_schedule(
            conn, str(schedule_id), str(temporary_id)
        )
        if stored is None:
            raise not_found("temporary schedule", temporary_id, schedule_id)
        start: datetime = stored["start"] if json.start is None else json.start
        end: datetime = stored["end"] if json.end is None else json.end
        if shifts is None:
            _check_temporary(conn, start, end, stored["shifts"], kept=True)
        else:
            _check_temporary(conn, start, end, shifts)
        row: dict[str, Any] = stored_temporaries.update_temporary_schedule(
            conn, str(temporary_id), start, end, shifts
        )
    return row


@endpoint(TEMPORARY, "DELETE", "write", TAG, HTTP_204=None, allow=TEAM)
def delete_temporary_schedule(schedule_id: UUID, temporary_id: UUID) -> tuple[str, int]:
    """Delete a temporary schedule."""
    remove_temporary(schedule_id, temporary_id)
    return "", 204


def remove_temporary(schedule_id: UUID, temporary_id: UUID) -> None:
    """Delete the schedule's temporary schedule (404 when it has no such one)."""
    with transaction() as conn:
        if not stored_temporaries.delete_temporary_schedule(
            conn, str(schedule_id), str(temporary_id)
        ):
            raise not_found("temporary schedule", temporary_id, schedule_id)
