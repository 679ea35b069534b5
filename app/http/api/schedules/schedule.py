"""/api/v1/schedules and /schedules/<id>: the schedule itself, with its on-call notice channel."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from app.contacts import channels as contacts_channels
from app.http.api import listing
from app.http.api.routing import NotFound, endpoint, transaction
from app.http.api.schedules.shared import ONE, TAG, require_schedule, with_notice_channels
from app.http.api.schemas.base import PageQuery
from app.http.api.schemas.schedules import Schedule, ScheduleCreate, SchedulePage, SchedulePatch
from app.http.permissions import TEAM, TEAM_CREATE, TEAM_MOVE
from app.oncall import schedules as stored_schedules
from app.platform.errors import invalid


def _set_notice_channel(
    conn: psycopg.Connection[Any], schedule_id: str, channel_id: UUID | None
) -> None:
    """Point the schedule's on-call notices at a channel (422 if it does not exist) or nowhere."""
    if channel_id is not None and not contacts_channels.channel_exists(conn, str(channel_id)):
        raise invalid("notice_channel_id", f"no notification channel with id {channel_id}")
    stored_schedules.set_notice_channel(
        conn, schedule_id, None if channel_id is None else str(channel_id)
    )


@endpoint("/schedules", "GET", "read", TAG, HTTP_200=SchedulePage)
def list_schedules(query: PageQuery) -> SchedulePage:
    """List schedules, oldest first."""
    return listing.oldest_first(
        query,
        lambda conn, after, limit: with_notice_channels(
            conn, stored_schedules.list_schedules(conn, after, limit)
        ),
        Schedule.model_validate,
        SchedulePage,
    )


@endpoint("/schedules", "POST", "write", TAG, HTTP_201=Schedule, allow=TEAM_CREATE)
def create_schedule(json: ScheduleCreate) -> tuple[Schedule, int]:
    """Create a schedule; its name must be unique (case-insensitively)."""
    return Schedule.model_validate(add_schedule(json)), 201


def add_schedule(body: ScheduleCreate) -> dict[str, Any]:
    """Store a new schedule (POST /schedules, and the schedule list's form)."""
    with transaction() as conn:
        team = None if body.team_id is None else str(body.team_id)
        row = stored_schedules.create_schedule(
            conn, body.name, body.time_zone, body.description, team
        )
        if body.notice_channel_id is not None:
            _set_notice_channel(conn, row["id"], body.notice_channel_id)
        return require_schedule(conn, UUID(row["id"]))


@endpoint(ONE, "GET", "read", TAG, HTTP_200=Schedule)
def get_schedule(schedule_id: UUID) -> Schedule:
    """Get one schedule."""
    with transaction() as conn:
        return Schedule.model_validate(require_schedule(conn, schedule_id))


@endpoint(ONE, "PATCH", "write", TAG, HTTP_200=Schedule, allow=TEAM_MOVE)
def update_schedule(schedule_id: UUID, json: SchedulePatch) -> Schedule:
    """Change a schedule's name, description, time zone or notice channel."""
    changes = json.changes()
    notice = "notice_channel_id" in changes
    channel_id = changes.pop("notice_channel_id", None)
    with transaction() as conn:
        row = stored_schedules.update_schedule(conn, str(schedule_id), changes)
        if row is None:
            raise NotFound(f"no schedule with id {schedule_id}")
        if notice:
            _set_notice_channel(conn, str(schedule_id), channel_id)
        row = require_schedule(conn, schedule_id)
    return Schedule.model_validate(row)


@endpoint(ONE, "DELETE", "write", TAG, HTTP_204=None, allow=TEAM)
def delete_schedule(schedule_id: UUID) -> tuple[str, int]:
    """Delete a schedule with its rules, overrides, temporary schedules and feeds."""
    with transaction() as conn:
        if not stored_schedules.delete_schedule(conn, str(schedule_id)):
            raise NotFound(f"no schedule with id {schedule_id}")
    return "", 204
