"""/api/v1/schedules/<id>/overrides: a user added, removed or replaced for a span. Overlapping
overrides are allowed and apply in order of start (ties: in the order they were made), each
acting on the result of those before it (app.oncall.compute)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from app.http.api import listing
from app.http.api.routing import endpoint, transaction
from app.http.api.schedules.shared import ONE, TAG, check_users, not_found, require_schedule
from app.http.api.schemas.base import PageQuery
from app.http.api.schemas.overrides import (
    OVERRIDE_USERS,
    Override,
    OverrideCreate,
    OverridePage,
    OverridePatch,
)
from app.http.permissions import TEAM
from app.oncall import overrides as stored_overrides
from app.platform.errors import invalid

OVERRIDES = ONE + "/overrides"
OVERRIDE = OVERRIDES + "/<uuid:override_id>"


def _needed(needed: bool) -> str:
    return "required for this kind" if needed else "not allowed for this kind"


def _check_override(conn: psycopg.Connection[Any], fields: dict[str, Any]) -> None:
    """What an override must be, as 422s naming the field (POST and the result of a PATCH)."""
    if fields["end"] <= fields["start"]:
        raise invalid("end", "must be after start")
    for field, kinds in OVERRIDE_USERS.items():
        if (fields[field] is not None) != (fields["kind"] in kinds):
            raise invalid(field, _needed(fields["kind"] in kinds))
    check_users(conn, {field: fields[field] for field in OVERRIDE_USERS})


def _override_fields(fields: dict[str, Any]) -> dict[str, Any]:
    for key in ("add_user_id", "remove_user_id"):
        if key in fields:
            fields[key] = None if fields[key] is None else str(fields[key])
    return fields


@endpoint(OVERRIDES, "GET", "read", TAG, HTTP_200=OverridePage)
def list_overrides(schedule_id: UUID, query: PageQuery) -> OverridePage:
    """List a schedule's overrides, oldest first."""
    return listing.oldest_first(
        query,
        lambda conn, after, limit: stored_overrides.list_overrides(
            conn, str(schedule_id), after, limit
        ),
        Override.model_validate,
        OverridePage,
        parent=lambda conn: require_schedule(conn, schedule_id),
    )


@endpoint(OVERRIDES, "POST", "write", TAG, HTTP_201=Override, allow=TEAM)
def create_override(schedule_id: UUID, json: OverrideCreate) -> tuple[Override, int]:
    """Add, remove or replace a user during [start, end); overrides may overlap."""
    return Override.model_validate(add_override(schedule_id, json)), 201


def add_override(schedule_id: UUID, body: OverrideCreate) -> dict[str, Any]:
    """Store a checked override (POST …/overrides, and the schedule page's override dialog)."""
    fields = _override_fields(body.model_dump())
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        _check_override(conn, fields)
        return stored_overrides.create_override(conn, str(schedule_id), fields)


@endpoint(OVERRIDE, "GET", "read", TAG, HTTP_200=Override)
def get_override(schedule_id: UUID, override_id: UUID) -> Override:
    """Get one override."""
    with transaction() as conn:
        row = stored_overrides.get_override(conn, str(schedule_id), str(override_id))
    if row is None:
        raise not_found("override", override_id, schedule_id)
    return Override.model_validate(row)


@endpoint(OVERRIDE, "PATCH", "write", TAG, HTTP_200=Override, allow=TEAM)
def update_override(schedule_id: UUID, override_id: UUID, json: OverridePatch) -> Override:
    """Change an override's kind, users or span; the result is checked as POST checks it."""
    with transaction() as conn:
        stored = stored_overrides.lock_override(conn, str(schedule_id), str(override_id))
        if stored is None:
            raise not_found("override", override_id, schedule_id)
        fields = {key: stored[key] for key in ("kind", "add_user_id", "remove_user_id")}
        fields |= {"start": stored["start"], "end": stored["end"]}
        fields |= _override_fields(json.changes())
        _check_override(conn, fields)
        row = stored_overrides.update_override(conn, str(schedule_id), str(override_id), fields)
    assert row is not None  # locked above
    return Override.model_validate(row)


@endpoint(OVERRIDE, "DELETE", "write", TAG, HTTP_204=None, allow=TEAM)
def delete_override(schedule_id: UUID, override_id: UUID) -> tuple[str, int]:
    """Delete an override."""
    remove_override(schedule_id, override_id)
    return "", 204


def remove_override(schedule_id: UUID, override_id: UUID) -> None:
    """Delete the schedule's override (404 when it has no such override)."""
    with transaction() as conn:
        if not stored_overrides.delete_override(conn, str(schedule_id), str(override_id)):
            raise not_found("override", override_id, schedule_id)
