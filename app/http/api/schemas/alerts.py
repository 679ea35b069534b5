"""Schemas of /api/v1/alerts, their log, and a service's bulk alert actions."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from app.alerts.store import STATUSES
from app.http.api.schemas.base import Id, Output, OutTime, PageQuery, Time, storable

MAX_SEARCH = 200  # characters of an alert text search

SearchText = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_SEARCH), AfterValidator(storable)
]
AlertStatus = Literal["triggered", "acknowledged", "closed"]

assert STATUSES == ("triggered", "acknowledged", "closed")


class AlertQuery(PageQuery):
    service_id: uuid.UUID | SkipJsonSchema[None] = None
    status: AlertStatus | SkipJsonSchema[None] = None
    q: SearchText | SkipJsonSchema[None] = Field(
        None, description="text searched for in summary and details"
    )
    since: Time | SkipJsonSchema[None] = Field(None, description="created at or after this time")
    until: Time | SkipJsonSchema[None] = Field(None, description="created before this time")


class Alert(Output):
    id: Id
    service_id: str
    status: AlertStatus
    summary: str
    details: str
    dedup_key: str
    source: str
    duplicate_count: int
    created_at: OutTime
    updated_at: OutTime
    last_seen_at: OutTime
    closed_at: OutTime | None


class AlertLogEntry(Output):
    id: Id
    event: str
    actor_type: str
    actor_id: str | None
    message: str
    meta: dict[str, Any]
    created_at: OutTime


class AlertWithLog(Alert):
    log: list[AlertLogEntry] = Field(description="the log's first entries, oldest first")
    log_next_cursor: str | None = Field(
        description="when the log has more entries: the cursor for GET /alerts/{id}/log"
    )


class AlertLogPage(Output):
    items: list[AlertLogEntry]
    next_cursor: str | None


class BulkResult(Output):
    service_id: str
    status: AlertStatus
    alert_ids: list[Id] = Field(description="the alerts this request changed")


class AlertPage(Output):
    items: list[Alert]
    next_cursor: str | None
