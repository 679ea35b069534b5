"""/api/v1/alerts: list and read alerts with their log; acknowledge, close, escalate.

Status moves forward only. Repeating an action that already happened is a 200 no-op (nothing is
logged); acknowledging or escalating a closed alert is 409 `invalid_transition`. Every change is
logged with the acting API key as actor (`actor_type` "api_key", `actor_id` its id).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from app.alerts import store
from app.alerts.store import Actor
from app.http.api import pagination
from app.http.api.routing import Conflict, NotFound, actor, endpoint, transaction
from app.http.api.schemas.alerts import (
    Alert,
    AlertLogEntry,
    AlertLogPage,
    AlertPage,
    AlertQuery,
    AlertWithLog,
)
from app.http.api.schemas.base import ErrorBody, PageQuery
from app.http.permissions import EVERYONE

TAG = "alerts"
ALERT = "/alerts/<int(min=1, max=9223372036854775807):alert_id>"  # a Postgres bigint


class InvalidTransition(Conflict):
    code = "invalid_transition"


@endpoint("/alerts", "GET", "read", TAG, HTTP_200=AlertPage)
def list_alerts(query: AlertQuery) -> AlertPage:
    """List alerts, newest first, filtered by service, status, creation time and text."""
    where = store.AlertFilter(
        service_id=str(query.service_id) if query.service_id else None,
        status=query.status,
        q=query.q,
        since=query.since,
        until=query.until,
        before_id=pagination.decode_id_cursor(query.cursor),
        limit=query.limit,
    )
    with transaction() as conn:
        rows = store.list_alerts(conn, where)
    items, next_cursor = pagination.page(
        rows, query.limit, pagination.id_cursor, Alert.model_validate
    )
    return AlertPage(items=items, next_cursor=next_cursor)


@endpoint(ALERT, "GET", "read", TAG, HTTP_200=AlertWithLog)
def get_alert(alert_id: int) -> AlertWithLog:
    """Get one alert with the first entries of its log, oldest first; `log_next_cursor` pages
    through the rest (GET /alerts/{id}/log)."""
    with transaction() as conn:
        return _alert(conn, alert_id)


@endpoint(ALERT + "/log", "GET", "read", TAG, HTTP_200=AlertLogPage)
def get_alert_log(alert_id: int, query: PageQuery) -> AlertLogPage:
    """Page through an alert's log, oldest entry first."""
    after = pagination.decode_id_cursor(query.cursor)
    with transaction() as conn:
        if store.alert_status(conn, alert_id) is None:
            raise NotFound(f"no alert with id {alert_id}")
        rows = store.alert_log(conn, alert_id, after, query.limit + 1)
    items, next_cursor = pagination.page(
        rows, query.limit, pagination.id_cursor, AlertLogEntry.model_validate
    )
    return AlertLogPage(items=items, next_cursor=next_cursor)


def _alert(conn: psycopg.Connection[Any], alert_id: int) -> AlertWithLog:
    row = store.get_alert(conn, alert_id)
    if row is None:
        raise NotFound(f"no alert with id {alert_id}")
    log = row["log"]
    more = row.pop("log_more")
    return AlertWithLog.model_validate(
        {**row, "log_next_cursor": pagination.id_cursor(log[-1]) if more else None}
    )


def _locked_status(conn: psycopg.Connection[Any], alert_id: int) -> str:
    """The alert's status, row locked until commit so the decision below cannot go stale."""
    status = store.alert_status(conn, alert_id, lock=True)
    if status is None:
        raise NotFound(f"no alert with id {alert_id}")
    return status


# How the alert log says an action was taken (meta "via"); the API's entries carry none.
Via = Mapping[str, Any] | None
# Past participle of each status an action moves to, for the refusal's message.
_DONE = {"acknowledged": "acknowledged", "closed": "closed"}


def change_status(
    conn: psycopg.Connection[Any], alert_id: int, to: str, who: Actor, meta: Via = None
) -> bool:
    """The one rule for moving an alert's status, for the API and the web app alike: forward
    only; doing it again is a no-op (False); a closed alert is never acknowledged (409)."""
    status = _locked_status(conn, alert_id)
    if status == "closed" and to != "closed":
        raise InvalidTransition(f"alert {alert_id} is closed; it cannot be {_DONE[to]}")
    if status == to:
        return False
    return store.set_status(conn, alert_id, to, who, meta)


def escalate(conn: psycopg.Connection[Any], alert_id: int, who: Actor, meta: Via = None) -> None:
    """Ask for an open alert to be escalated now (409 when it is closed)."""
    if _locked_status(conn, alert_id) == "closed":
        raise InvalidTransition(f"alert {alert_id} is closed; it cannot be escalated")
    store.request_escalation(conn, alert_id, who, meta)


def _move(alert_id: int, to: str) -> AlertWithLog:
    with transaction() as conn:
        change_status(conn, alert_id, to, actor())
        return _alert(conn, alert_id)


@endpoint(
    ALERT + "/acknowledge",
    "POST",
    "write",
    TAG,
    HTTP_200=AlertWithLog,
    HTTP_409=ErrorBody,
    allow=EVERYONE,
)
def acknowledge_alert(alert_id: int) -> AlertWithLog:
    """Acknowledge a triggered alert (a no-op if it already is; 409 if it is closed)."""
    return _move(alert_id, "acknowledged")


@endpoint(ALERT + "/close", "POST", "write", TAG, HTTP_200=AlertWithLog, allow=EVERYONE)
def close_alert(alert_id: int) -> AlertWithLog:
    """Close an alert (a no-op if it already is)."""
    return _move(alert_id, "closed")


@endpoint(
    ALERT + "/escalate",
    "POST",
    "write",
    TAG,
    HTTP_200=AlertWithLog,
    HTTP_409=ErrorBody,
    allow=EVERYONE,
)
def escalate_alert(alert_id: int) -> AlertWithLog:
    """Ask for the alert to be escalated now; the escalation engine acts on the request."""
    with transaction() as conn:
        escalate(conn, alert_id, actor())
        return _alert(conn, alert_id)
