"""Schemas of the calendar subscriptions of a schedule or a user (…/calendar-subscriptions)."""

from __future__ import annotations

from pydantic import Field

from app.http.api.schemas.base import Output, OutTime


class CalendarSubscription(Output):
    id: str
    user_id: str | None
    schedule_id: str | None
    created_at: OutTime
    revoked_at: OutTime | None


class CalendarSubscriptionPage(Output):
    items: list[CalendarSubscription]
    next_cursor: str | None


class CalendarSubscriptionCreated(CalendarSubscription):
    url: str = Field(description="the feed URL, token included: shown only in this response")
