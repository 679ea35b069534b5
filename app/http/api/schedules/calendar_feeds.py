"""Calendar feeds: a schedule's or a user's calendar subscriptions, and the public feed itself.

`POST …/calendar-subscriptions` answers once with a feed URL whose token is the credential:
`GET /calendar/<token>.ics` needs no API key and answers 404 for unknown or revoked tokens. It
lives outside /api/v1 on purpose: every /api/v1 route takes an API key of a scope (and is held
to that by the auth and OpenAPI tests), and the API's request log writes paths, which here carry
the token; the access log hides it (config.gunicorn_logging).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from flask import Response
from flask.blueprints import BlueprintSetupState

from app.directory import users as directory_users
from app.http.api import pagination
from app.http.api.parents import require_user
from app.http.api.routing import NotFound, api_blueprint, endpoint, settings, transaction
from app.http.api.schedules.computation import load_for_computation, shifts_or_none
from app.http.api.schedules.shared import ONE, TAG, require_schedule
from app.http.api.schemas.base import PageQuery
from app.http.api.schemas.calendar_subscriptions import (
    CalendarSubscription,
    CalendarSubscriptionCreated,
    CalendarSubscriptionPage,
)
from app.http.permissions import SELF, TEAM
from app.oncall import calendar_subscriptions, ical, loading
from app.oncall import schedules as stored_schedules
from app.oncall.model import Shift as ShiftValue

FEED_PAST = timedelta(days=1)  # a feed starts this long before the start of today (UTC) …
FEED_AHEAD = timedelta(days=60)  # … and reaches this far ahead
FEED_PREFIX = "/calendar"  # outside /api/v1: the token in the path is the credential
SCHEDULE_FEEDS = ONE + "/calendar-subscriptions"
USER_FEEDS = "/users/<uuid:user_id>/calendar-subscriptions"


def _created(row: dict[str, Any]) -> CalendarSubscriptionCreated:
    url = f"{settings().public_url}{FEED_PREFIX}/{row['token']}.ics"
    return CalendarSubscriptionCreated.model_validate({**row, "url": url})


def _subscription_page(
    conn: psycopg.Connection[Any], owner_column: str, owner_id: UUID, query: PageQuery
) -> CalendarSubscriptionPage:
    after = pagination.decode_time_cursor(query.cursor)
    rows = calendar_subscriptions.list_subscriptions(
        conn, owner_column, str(owner_id), after, query.limit + 1
    )
    items, next_cursor = pagination.page(
        rows, query.limit, pagination.time_cursor, CalendarSubscription.model_validate
    )
    return CalendarSubscriptionPage(items=items, next_cursor=next_cursor)


@endpoint(SCHEDULE_FEEDS, "GET", "read", TAG, HTTP_200=CalendarSubscriptionPage)
def list_schedule_subscriptions(schedule_id: UUID, query: PageQuery) -> CalendarSubscriptionPage:
    """List a schedule's calendar feeds, revoked ones too, oldest first (never their URLs)."""
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        return _subscription_page(conn, "schedule_id", schedule_id, query)


@endpoint(SCHEDULE_FEEDS, "POST", "write", TAG, HTTP_201=CalendarSubscriptionCreated, allow=TEAM)
def create_schedule_subscription(schedule_id: UUID) -> tuple[CalendarSubscriptionCreated, int]:
    """A calendar feed of the schedule's shifts; its URL is shown only in this response."""
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        row = calendar_subscriptions.create_subscription(conn, schedule_id=str(schedule_id))
    return _created(row), 201


@endpoint(
    SCHEDULE_FEEDS + "/<uuid:subscription_id>", "DELETE", "write", TAG, HTTP_204=None, allow=TEAM
)
def revoke_schedule_subscription(schedule_id: UUID, subscription_id: UUID) -> tuple[str, int]:
    """Revoke a schedule's calendar feed: its URL answers 404 from now on."""
    with transaction() as conn:
        if not calendar_subscriptions.revoke_subscription(
            conn, str(subscription_id), "schedule_id", str(schedule_id)
        ):
            raise NotFound(f"no calendar subscription {subscription_id} of schedule {schedule_id}")
    return "", 204


@endpoint(USER_FEEDS, "GET", "read", TAG, HTTP_200=CalendarSubscriptionPage)
def list_user_subscriptions(user_id: UUID, query: PageQuery) -> CalendarSubscriptionPage:
    """List a user's calendar feeds, revoked ones too, oldest first (never their URLs)."""
    with transaction() as conn:
        require_user(conn, user_id)
        return _subscription_page(conn, "user_id", user_id, query)


@endpoint(USER_FEEDS, "POST", "write", TAG, HTTP_201=CalendarSubscriptionCreated, allow=SELF)
def create_user_subscription(user_id: UUID) -> tuple[CalendarSubscriptionCreated, int]:
    """A calendar feed of the user's shifts in every schedule; the URL is shown only here."""
    return new_user_feed(user_id), 201


def new_user_feed(user_id: UUID) -> CalendarSubscriptionCreated:
    """A new calendar feed of the user's shifts, with its URL (the only time it is shown)."""
    with transaction() as conn:
        require_user(conn, user_id)
        row = calendar_subscriptions.create_subscription(conn, user_id=str(user_id))
    return _created(row)


@endpoint(USER_FEEDS + "/<uuid:subscription_id>", "DELETE", "write", TAG, HTTP_204=None, allow=SELF)
def revoke_user_subscription(user_id: UUID, subscription_id: UUID) -> tuple[str, int]:
    """Revoke a user's calendar feed: its URL answers 404 from now on."""
    revoke_user_feed(user_id, subscription_id)
    return "", 204


def revoke_user_feed(user_id: UUID, subscription_id: UUID) -> None:
    """Revoke the user's calendar feed (404 if they have no such live one)."""
    with transaction() as conn:
        if not calendar_subscriptions.revoke_subscription(
            conn, str(subscription_id), "user_id", str(user_id)
        ):
            raise NotFound(f"no calendar subscription {subscription_id} of user {user_id}")


def _feed_window(now: datetime) -> tuple[datetime, datetime]:
    """From a day before today's start (UTC): a stable start keeps clipped shifts' UIDs stable."""
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - FEED_PAST
    return start, now + FEED_AHEAD


def _feed_shifts(
    conn: psycopg.Connection[Any], schedule_ids: list[str], user_id: str | None, now: datetime
) -> list[ical.FeedShift]:
    """The feed's shifts: a user's own (events name the schedule) or a schedule's (events name
    the person on call; a user deleted meanwhile shows as their id)."""
    start, end = _feed_window(now)
    found: list[tuple[str, str, ShiftValue]] = []
    for schedule_id in schedule_ids:
        row = stored_schedules.get_schedule(conn, schedule_id)
        schedule, rotations = load_for_computation(conn, UUID(schedule_id))
        for shift in shifts_or_none(schedule, rotations, start, end):
            if user_id is None or shift.user_id == user_id:
                found.append((schedule_id, row["name"] if row else "", shift))
    if user_id is not None:
        return [ical.FeedShift(*item) for item in found]
    names = directory_users.user_names(conn, {shift.user_id for _, _, shift in found})
    return [
        ical.FeedShift(sid, name, shift, names.get(shift.user_id, shift.user_id))
        for sid, name, shift in found
    ]


def calendar_feed(token: str) -> Response:
    """The .ics feed a subscription's token opens (404 for unknown or revoked tokens)."""
    now = datetime.now(UTC)
    with transaction() as conn:
        subscription = calendar_subscriptions.verify_subscription(conn, token)
        if subscription is None:
            raise NotFound("no such calendar feed (it may have been revoked)")
        user_id = subscription["user_id"]
        if user_id is not None:
            schedule_ids = loading.schedule_ids_for_user(conn, user_id)
            name = "On call"
        else:
            schedule_ids = [subscription["schedule_id"]]
            row = stored_schedules.get_schedule(conn, subscription["schedule_id"])
            name = f"On call: {row['name'] if row else ''}"
        shifts = _feed_shifts(conn, schedule_ids, user_id, now)
    body = ical.build_calendar(name, shifts, now)
    return Response(body, mimetype="text/calendar", headers={"Cache-Control": "no-store"})


def _register_feed(state: BlueprintSetupState) -> None:
    state.app.add_url_rule(
        FEED_PREFIX + "/<token>.ics", "calendar_feed", calendar_feed, methods=["GET"]
    )


api_blueprint.record_once(_register_feed)
