"""What the schedule sub-resources share: their tag and path, the 404 of a schedule (or of a
part of one) that does not exist, and the 422 of a user who does not exist."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from app.directory import users as directory_users
from app.http.api.routing import NotFound
from app.oncall import schedules as stored_schedules
from app.platform.errors import invalid

TAG = "schedules"
ONE = "/schedules/<uuid:schedule_id>"


def require_schedule(conn: psycopg.Connection[Any], schedule_id: UUID) -> dict[str, Any]:
    """The schedule's row with its notice channel, or a 404."""
    row = stored_schedules.get_schedule(conn, str(schedule_id))
    if row is None:
        raise NotFound(f"no schedule with id {schedule_id}")
    return with_notice_channels(conn, [row])[0]


def with_notice_channels(
    conn: psycopg.Connection[Any], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Schedule rows with their `notice_channel_id` added."""
    channels = stored_schedules.notice_channels(conn, [row["id"] for row in rows])
    return [{**row, "notice_channel_id": channels.get(row["id"])} for row in rows]


def not_found(what: str, item_id: UUID, schedule_id: UUID) -> NotFound:
    return NotFound(f"no {what} with id {item_id} in schedule {schedule_id}")


def check_users(conn: psycopg.Connection[Any], fields: dict[str, str | None]) -> None:
    """422 naming the first field (of field -> user id) whose user does not exist."""
    missing = directory_users.missing_users(conn, [v for v in fields.values() if v is not None])
    for field, user_id in fields.items():
        if user_id in missing:
            raise invalid(field, f"no user with id {user_id}")
