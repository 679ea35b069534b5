"""Alerts in Postgres (`alerts`, its only writer): raise with DB-enforced dedup, move forward
through their states; each change is logged (app.alerts.log) in the statement that makes it.

Every function takes a connection inside a transaction (app.platform.pool.Database.transaction) and
sends `NOTIFY klaxon_events` for each change, which Postgres delivers on commit — so the engine
wakes for exactly the changes that happened.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from app.alerts import escalation_state
from app.alerts import log as alert_logs
from app.platform.sql_fragments import EVENTS_CHANNEL, contains_pattern

MAX_SUMMARY = 1024  # characters
MAX_DETAILS = 6 * 1024  # bytes (UTF-8)
STATUSES = ("triggered", "acknowledged", "closed")


@dataclass(frozen=True)
class Actor:
    """Who did it, for the alert log."""

    type: str  # system | user | api_key | integration_key | heartbeat
    id: str | None = None


@dataclass(frozen=True)
class Raised:
    alert_id: int
    service_id: str
    is_new: bool


# A line break with the blanks around it, or any other control character (NUL included, which
# Postgres text cannot hold), becomes one space in a summary.
_SUMMARY_BREAKS = re.compile(r"[ \t]*[\x00-\x1f\x7f]+[ \t]*")
# That pattern alone is quadratic over a long run of spaces that no control character follows
# (it is retried from every space of the run). It is applied only inside runs of blanks and
# controls that hold a control character (tab included), where every retry succeeds; runs of
# plain spaces, which it would leave alone anyway, are skipped.
_BLANK_OR_CONTROL_RUN = re.compile(r"[ \t\x00-\x1f\x7f]+")
# Details keep their line breaks and tabs; other control characters are dropped.
_DETAILS_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def fold_summary(text: str) -> str:
    """One line, at most MAX_SUMMARY characters (GoAlert folds newlines the same way).

    Linear (see _BLANK_OR_CONTROL_RUN), and only the first MAX_SUMMARY characters after
    leading whitespace are folded: nothing past them can be stored.
    """
    clipped = text.lstrip()[:MAX_SUMMARY]
    return _BLANK_OR_CONTROL_RUN.sub(_fold_run, clipped).strip()[:MAX_SUMMARY].strip()


def _fold_run(run: re.Match[str]) -> str:
    blanks = run.group()
    return _SUMMARY_BREAKS.sub(" ", blanks) if blanks.strip(" ") else blanks


def clip_details(text: str) -> str:
    """At most MAX_DETAILS bytes of UTF-8, never cutting a character in half."""
    # No more than MAX_DETAILS characters can survive, so no more are transformed.
    encoded = _DETAILS_CONTROLS.sub("", text[:MAX_DETAILS]).encode("utf-8")
    return encoded[:MAX_DETAILS].decode("utf-8", errors="ignore")


def auto_dedup_key(summary: str, details: str) -> str:
    """The key used when the sender gives none: a hash of summary and details."""
    digest = hashlib.sha256(f"{summary}\x00{details}".encode()).hexdigest()
    return f"auto:1:{digest}"


def user_dedup_key(dedup: str) -> str:
    return f"user:{dedup}"[:512]


# Duplicates are logged once per DUPLICATE_WINDOW per alert: the alert row (locked by each
# duplicate in turn, so concurrent repeats agree) says when the current window opened, how many
# it counted, and which log row (its id taken here, in advance) stands for it. The first
# duplicate of a window inserts that row with count 1; the others rewrite its count.
DUPLICATE_WINDOW = "60 seconds"
_WINDOW_OPEN = (
    f"alerts.duplicate_window_at > now() - interval '{DUPLICATE_WINDOW}' "
    "AND alerts.duplicate_log_id IS NOT NULL"
)
_DUPLICATE_UPDATE = f"""
    DO UPDATE SET duplicate_count = alerts.duplicate_count + 1,
                  last_seen_at = now(), updated_at = now(),
                  duplicate_window_at = CASE WHEN {_WINDOW_OPEN}
                      THEN alerts.duplicate_window_at ELSE now() END,
                  duplicate_window_count = CASE WHEN {_WINDOW_OPEN}
                      THEN alerts.duplicate_window_count + 1 ELSE 1 END,
                  duplicate_log_id = CASE WHEN {_WINDOW_OPEN}
                      THEN alerts.duplicate_log_id ELSE {alert_logs.NEXT_ID} END
    RETURNING id, service_id, (xmax = 0) AS is_new, duplicate_log_id, duplicate_window_count
"""


def upsert_sql(rows: str) -> str:
    """The body of the `upsert` CTE a raise is built around: insert the alert the SELECT or
    VALUES `rows` yields (service_id, summary, details, dedup_key, source), or count a duplicate
    of the open one; the CTEs of `alert_logs.raise_logs` log either."""
    return (
        "INSERT INTO alerts (service_id, summary, details, dedup_key, source)\n"
        f"{rows}\nON CONFLICT (service_id, dedup_key) WHERE status <> 'closed'\n{_DUPLICATE_UPDATE}"
    )


def close_sql(where: str) -> str:
    """An UPDATE closing the open alerts `where` holds for, returning their ids: the body of a
    CTE in a statement that closes alerts as part of another change (a heartbeat check-in)."""
    return (
        "UPDATE alerts SET status = 'closed', closed_at = now(), updated_at = now()\n"
        f"WHERE {where} AND status <> 'closed'\nRETURNING id"
    )


_RAISE = f"""
WITH upsert AS (
{upsert_sql("VALUES (%(service_id)s, %(summary)s, %(details)s, %(dedup_key)s, %(source)s)")}
), {alert_logs.raise_logs("%(actor_type)s", "%(actor_id)s", "%(meta)s")}
SELECT id, service_id::text AS service_id, is_new, {alert_logs.RECOUNT_COLUMNS},
       pg_notify('{EVENTS_CHANNEL}', json_build_object(
           'alert_id', id, 'event', CASE WHEN is_new THEN 'created' ELSE 'duplicate' END)::text)
FROM upsert
"""


def raise_alert(
    conn: psycopg.Connection[Any],
    service_id: str,
    summary: str,
    details: str = "",
    dedup: str | None = None,
    source: str = "api",
    actor: Actor = Actor("system"),
    meta: Mapping[str, str] | None = None,
) -> Raised:
    """Open an alert, or count a duplicate of the open one with the same dedup key.

    `meta` (a sender's key/value metadata, GoAlert's `meta`) is recorded on the `created` log
    entry of a new alert only, as GoAlert keeps it only for new alerts.
    """
    summary = fold_summary(summary)
    details = clip_details(details)
    dedup_key = user_dedup_key(dedup) if dedup else auto_dedup_key(summary, details)
    row = conn.execute(
        _RAISE,
        {
            "service_id": service_id,
            "summary": summary,
            "details": details,
            "dedup_key": dedup_key,
            "source": source,
            "actor_type": actor.type,
            "actor_id": actor.id,
            "meta": Jsonb({"meta": dict(meta)} if meta else {}),
        },
    ).fetchone()
    assert row is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
    alert_logs.recount(conn, row)
    return Raised(int(row["id"]), row["service_id"], bool(row["is_new"]))


_TRANSITION_LOG = alert_logs.insert_sql(
    "alert_id, event, actor_type, actor_id, message, meta",
    "SELECT id, %(to)s, %(actor_type)s, %(actor_id)s, %(message)s, %(meta)s FROM changed",
)
_TRANSITION = f"""
WITH changed AS (
    UPDATE alerts SET status = %(to)s, updated_at = now(),
                      closed_at = CASE WHEN %(to)s = 'closed' THEN now() ELSE closed_at END
    WHERE {{where}} AND status = ANY(%(from)s)
    RETURNING id
), logged AS ({_TRANSITION_LOG})
SELECT id, pg_notify('{EVENTS_CHANNEL}',
                     json_build_object('alert_id', id, 'event', %(to)s)::text)
FROM changed
"""

# Which states each action moves from: forward only, and doing it twice changes nothing.
_FROM = {"acknowledged": ["triggered"], "closed": ["triggered", "acknowledged"]}


def _transition(
    conn: psycopg.Connection[Any],
    where: str,
    params: dict[str, Any],
    to: str,
    actor: Actor,
    message: str = "",
    meta: Mapping[str, Any] | None = None,
) -> list[int]:
    rows = conn.execute(
        _TRANSITION.format(where=where),
        {
            **params,
            "to": to,
            "from": _FROM[to],
            "actor_type": actor.type,
            "actor_id": actor.id,
            "message": message,
            "meta": Jsonb(dict(meta or {})),
        },
    ).fetchall()
    return [int(r["id"]) for r in rows]


def set_status(
    conn: psycopg.Connection[Any],
    alert_id: int,
    to: str,
    actor: Actor,
    meta: Mapping[str, Any] | None = None,
) -> bool:
    """Acknowledge or close one alert; False when it was already there (or beyond).

    `meta` lands on the log entry: how the actor acted, e.g. {"via": "sms", "link": true}.
    """
    return bool(_transition(conn, "id = %(id)s", {"id": alert_id}, to, actor, meta=meta))


def set_status_by_dedup(
    conn: psycopg.Connection[Any], service_id: str, dedup: str, to: str, actor: Actor
) -> list[int]:
    """Acknowledge or close the open alert with this sender dedup key (or auto key)."""
    return _transition(
        conn,
        "service_id = %(service_id)s AND dedup_key = %(dedup_key)s",
        {"service_id": service_id, "dedup_key": dedup},
        to,
        actor,
    )


def set_status_for_service(
    conn: psycopg.Connection[Any], service_id: str, to: str, actor: Actor
) -> list[int]:
    """Bulk acknowledge or close every open alert of a service."""
    return _transition(conn, "service_id = %(service_id)s", {"service_id": service_id}, to, actor)


_REQUESTED_LOG = alert_logs.insert_sql(
    "alert_id, event, actor_type, actor_id, meta",
    "SELECT id, 'escalation_requested', %(actor_type)s, %(actor_id)s, %(meta)s FROM target",
)


def request_escalation(
    conn: psycopg.Connection[Any],
    alert_id: int,
    actor: Actor,
    meta: Mapping[str, Any] | None = None,
) -> bool:
    """Record a request to escalate an open alert now (the engine acts on it); `meta` lands
    on the log entry, as with set_status."""
    row = conn.execute(
        f"""
        WITH target AS (SELECT id FROM alerts WHERE id = %(id)s AND status <> 'closed'),
        forced AS ({escalation_state.force_sql("SELECT id FROM target")}),
        logged AS ({_REQUESTED_LOG})
        SELECT id, pg_notify('{EVENTS_CHANNEL}',
            json_build_object('alert_id', id, 'event', 'escalation_requested')::text)
        FROM target
        """,
        {
            "id": alert_id,
            "actor_type": actor.type,
            "actor_id": actor.id,
            "meta": Jsonb(dict(meta or {})),
        },
    ).fetchone()
    return row is not None


ALERT_COLUMNS = """
    a.id, a.service_id::text AS service_id, a.status, a.summary, a.details, a.dedup_key,
    a.source, a.duplicate_count, a.created_at, a.updated_at, a.last_seen_at, a.closed_at
"""


LOG_PAGE = 100  # log entries that come with an alert; the rest is paged through its log


def get_alert(conn: psycopg.Connection[Any], alert_id: int) -> dict[str, Any] | None:
    """One alert with the first LOG_PAGE entries of its log (oldest first), and `log_more`:
    whether more follow (read them with `alert_log`)."""
    alert = conn.execute(
        f"SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.id = %s", (alert_id,)
    ).fetchone()
    if alert is None:
        return None
    entries = alert_log(conn, alert_id, None, LOG_PAGE + 1)
    alert["log"], alert["log_more"] = entries[:LOG_PAGE], len(entries) > LOG_PAGE
    return dict(alert)


def alert_log(
    conn: psycopg.Connection[Any], alert_id: int, after_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` entries of an alert's log after entry `after_id`, oldest first."""
    return conn.execute(
        "SELECT id, event, actor_type, actor_id, message, meta, created_at FROM alert_logs "
        "WHERE alert_id = %s AND id > %s ORDER BY id LIMIT %s",
        (alert_id, after_id or 0, limit),
    ).fetchall()


@dataclass(frozen=True)
class AlertFilter:
    service_id: str | None = None
    status: str | None = None
    q: str | None = None
    service_ids: Sequence[str] | None = None  # any of these services ("my services")
    statuses: Sequence[str] | None = None  # any of these statuses (open: not closed)
    since: Any = None  # datetime
    until: Any = None  # datetime
    before_id: int | None = None  # cursor: alerts with a smaller id
    limit: int = 50


def list_alerts(conn: psycopg.Connection[Any], f: AlertFilter) -> list[dict[str, Any]]:
    """Newest first; at most f.limit + 1 rows so the caller can tell whether more exist."""
    clauses = ["TRUE"]
    params: dict[str, Any] = {"limit": f.limit + 1}
    for clause, key, value in (
        ("a.service_id = %(service_id)s", "service_id", f.service_id),
        ("a.service_id = ANY(%(service_ids)s::uuid[])", "service_ids", f.service_ids),
        ("a.status = ANY(%(statuses)s::text[])", "statuses", f.statuses),
        ("a.status = %(status)s", "status", f.status),
        ("a.created_at >= %(since)s", "since", f.since),
        ("a.created_at < %(until)s", "until", f.until),
        ("a.id < %(before_id)s", "before_id", f.before_id),
    ):
        if value is not None:
            clauses.append(clause)
            params[key] = value
    if f.q:
        clauses.append("(a.summary ILIKE %(q)s OR a.details ILIKE %(q)s)")
        params["q"] = contains_pattern(f.q)
    rows = conn.execute(
        f"SELECT {ALERT_COLUMNS} FROM alerts a WHERE {' AND '.join(clauses)} "
        "ORDER BY a.id DESC LIMIT %(limit)s",
        params,
    ).fetchall()
    return [dict(r) for r in rows]


def alert_status(conn: psycopg.Connection[Any], alert_id: int, *, lock: bool = False) -> str | None:
    """The alert's status, or None when there is no such alert. With `lock`, the row stays
    locked until commit, so a decision taken on the status cannot go stale."""
    sql = "SELECT status FROM alerts WHERE id = %s" + (" FOR UPDATE" if lock else "")
    row = conn.execute(sql, (alert_id,)).fetchone()
    return None if row is None else str(row["status"])


def alert_card(conn: psycopg.Connection[Any], alert_id: int) -> dict[str, Any] | None:
    """What a person acting on an alert from a link or a reply is shown: id, summary, status
    and the service's name."""
    return conn.execute(
        "SELECT a.id, a.summary, a.status, s.name AS service "
        "FROM alerts a JOIN services s ON s.id = a.service_id WHERE a.id = %s",
        (alert_id,),
    ).fetchone()


def open_alert_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Open (triggered or acknowledged) alerts per service id, in one query; a service with
    none is absent (the services list shows 0)."""
    rows = conn.execute(
        "SELECT service_id::text AS service_id, count(*) AS n FROM alerts "
        "WHERE status IN ('triggered', 'acknowledged') GROUP BY service_id"
    ).fetchall()
    return {str(row["service_id"]): int(row["n"]) for row in rows}


# For /metrics: one row per (source, status), tagged 'alert' so it can share a round trip with
# the other tables' counts (UNION ALL); a full scan, bounded by the caller's statement timeout.
COUNT_BY_SOURCE_AND_STATUS = (
    "SELECT 'alert', source, status, count(*), coalesce(sum(duplicate_count), 0) "
    "FROM alerts GROUP BY source, status"
)
