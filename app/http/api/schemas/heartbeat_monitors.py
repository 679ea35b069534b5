"""Schemas of /api/v1/services/<id>/heartbeat-monitors."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.base import Input, Name, Output, OutTime, Patch

HeartbeatTimeout = Annotated[int, Field(ge=60, le=9 * 24 * 3600, description="seconds")]


class HeartbeatMonitorCreate(Input):
    name: Name
    timeout_seconds: HeartbeatTimeout


class HeartbeatMonitorPatch(Patch):
    name: Name | SkipJsonSchema[None] = None
    timeout_seconds: HeartbeatTimeout | SkipJsonSchema[None] = None


class HeartbeatMonitor(Output):
    id: str
    service_id: str
    name: str
    timeout_seconds: int
    state: Literal["inactive", "healthy", "unhealthy"]
    last_checkin_at: OutTime | None
    created_at: OutTime


class HeartbeatMonitorCreated(HeartbeatMonitor):
    checkin_secret: str = Field(description="the check-in secret: shown only in this response")
    checkin_url: str = Field(description="POST here to check in (the secret is in it)")


class HeartbeatMonitorPage(Output):
    items: list[HeartbeatMonitor]
    next_cursor: str | None
