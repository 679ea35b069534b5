"""Schemas of /api/v1/users/<id>/notification-rules: when a user's contact method is used after
they are engaged (not a schedule's rules: those are app.http.api.schemas.schedule_rules)."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field, StrictInt

from app.http.api.schemas.base import MAX_DELAY, Input, Output, OutTime


class NotificationRuleCreate(Input):
    contact_method_id: UUID = Field(description="one of this user's contact methods")
    delay_minutes: StrictInt = Field(ge=0, le=MAX_DELAY, description="after the user is engaged")


class NotificationRule(Output):
    id: str
    user_id: str
    contact_method_id: str
    delay_minutes: int
    created_at: OutTime


class NotificationRulePage(Output):
    items: list[NotificationRule]
    next_cursor: str | None
