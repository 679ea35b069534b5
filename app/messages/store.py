"""The outgoing-message table's SQL, its only writer: new rows, claim, record, retry, take back,
dispatch.

New rows come from producers (app.messages.create for one destination, the engine's passes for
many): they give the rows, the INSERT here writes them. Every transition is one conditional
statement. A worker claims a row with `UPDATE … WHERE status = 'pending'` (no row back: someone
else has it, so a message queued twice is sent once) and records the outcome only while the
claim is still its own (`claimed_by` and `attempts` match), so a send the engine already took
back cannot overwrite the retry's result. The schema's trigger refuses any backward move and
writes the history. An alert message's outcome is logged on its alert in the same statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from app.alerts import log as alert_logs
from app.platform.sql_fragments import EVENTS_CHANNEL

TAKEN_BACK_ERROR = "worker stopped mid-send (its claim expired); sending again"
TAKE_BACK_LIMIT = 500  # rows per engine cycle; the rest are taken back next cycle

# ---- new messages ------------------------------------------------------------------------------
#
# Producers write many rows in one statement: they give the columns and a SELECT of the rows,
# and these build the INSERT (and the NOTIFY of each new row) around them.
NOTIFY_MADE = (
    f"SELECT id, pg_notify('{EVENTS_CHANNEL}', json_build_object('message_id', id)::text) FROM made"
)


def insert_sql(columns: str, rows: str) -> str:
    """An INSERT of the outgoing messages the SELECT `rows` yields (as `columns`); a row whose
    dedup_key exists already is skipped; it returns the new rows' ids."""
    return (
        f"INSERT INTO outgoing_messages ({columns})\n{rows}\n"
        "ON CONFLICT (dedup_key) DO NOTHING\nRETURNING id"
    )


def insert_and_notify_sql(columns: str, rows: str) -> str:
    """insert_sql, then a NOTIFY that wakes the engine for each new row (on commit); one row, the
    id, per new message."""
    return f"WITH made AS (\n{insert_sql(columns, rows)}\n)\n{NOTIFY_MADE}"


# ---- a send: claim and outcome -----------------------------------------------------------------

_CLAIM = """
WITH claimed AS (
    UPDATE outgoing_messages
       SET status = 'sending', attempts = attempts + 1,
           claimed_until = now() + make_interval(secs => %(claim)s),
           claimed_by = %(worker)s, updated_at = now()
     WHERE id = ANY(%(ids)s) AND status = 'pending' AND not_before <= now()
    RETURNING *
)
SELECT c.id, c.kind, c.dest_type, c.provider, c.user_id::text AS user_id, c.alert_id,
       c.schedule_id::text AS schedule_id, c.payload, c.attempts, c.max_attempts,
       c.contact_method_id::text AS contact_method_id, c.channel_id::text AS channel_id,
       c.created_at,
       coalesce(cm.address, ch.address) AS address,
       coalesce(cm.signing_secret, ch.signing_secret) AS signing_secret,
       coalesce(cm.name, ch.name) AS dest_name,
       cm.verified_at, coalesce(cm.disabled, false) AS disabled, cm.stopped_at,
       a.summary, a.details, a.status AS alert_status, a.service_id::text AS service_id,
       a.created_at AS alert_created_at, s.name AS service_name, sch.name AS schedule_name
FROM claimed c
LEFT JOIN contact_methods cm ON cm.id = c.contact_method_id
LEFT JOIN notification_channels ch ON ch.id = c.channel_id
LEFT JOIN alerts a ON a.id = c.alert_id
LEFT JOIN services s ON s.id = a.service_id
LEFT JOIN schedules sch ON sch.id = c.schedule_id
ORDER BY c.id
"""

_OWN = "id = %(id)s AND status = 'sending' AND claimed_by = %(worker)s AND attempts = %(attempt)s"

# An alert message's outcome is logged on its alert by the statement that records it: these are
# its `logged` CTE, reading the recorded rows from its `done` CTE.
_LOG_COLUMNS = "alert_id, event, actor_type, message, meta"
_SENT_LOG = alert_logs.insert_sql(
    _LOG_COLUMNS,
    """SELECT alert_id, 'notification_sent', 'system', log_message,
           jsonb_build_object('message_id', id::text, 'dest_type', dest_type, 'user_id', user_id)
    FROM done WHERE kind = 'alert' AND alert_id IS NOT NULL""",
)
_FAILED_LOG = alert_logs.insert_sql(
    _LOG_COLUMNS,
    """SELECT alert_id, 'notification_failed', 'system', last_error,
           jsonb_build_object('message_id', id::text, 'dest_type', dest_type, 'user_id', user_id,
                              'error', last_error)
    FROM done WHERE status = 'failed' AND kind = 'alert' AND alert_id IS NOT NULL""",
)


# Sends accepted, recorded together (one commit for all the sends of a batch that finished at
# once). The verification code is scrubbed once sent: only its hash is needed to confirm it.
_SENT = f"""
WITH input AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(attempts)s::int[], %(delivered)s::bool[],
                         %(provider_ids)s::text[], %(log_messages)s::text[])
        AS t(id, attempt, delivered, provider_message_id, log_message)
), done AS (
    UPDATE outgoing_messages m
       SET status = CASE WHEN i.delivered THEN 'delivered' ELSE 'sent' END,
           provider_message_id = i.provider_message_id,
           sent_at = now(), delivered_at = CASE WHEN i.delivered THEN now() END,
           claimed_until = NULL, last_error = NULL, updated_at = now(),
           payload = CASE WHEN m.kind = 'verification' THEN m.payload - 'code' ELSE m.payload END
      FROM input i
     WHERE m.id = i.id AND m.status = 'sending' AND m.claimed_by = %(worker)s
       AND m.attempts = i.attempt
    RETURNING m.id, m.kind, m.alert_id, m.dest_type, m.user_id, i.log_message
), logged AS ({_SENT_LOG})
SELECT id FROM done
"""

# A failed send: back to pending after `delay` seconds, or failed for good when it was
# permanent or the last attempt. job_id is cleared: no job is live, dispatch queues it when due.
_FAILURE = f"""
WITH decided AS (
    SELECT id, (%(permanent)s OR attempts >= max_attempts) AS give_up
    FROM outgoing_messages WHERE {_OWN} FOR UPDATE
), done AS (
    UPDATE outgoing_messages m
       SET status = CASE WHEN d.give_up THEN 'failed' ELSE 'pending' END,
           last_error = %(error)s,
           not_before = CASE WHEN d.give_up THEN m.not_before
                             ELSE now() + make_interval(secs => %(delay)s) END,
           failed_at = CASE WHEN d.give_up THEN now() END,
           claimed_until = NULL, job_id = NULL, updated_at = now()
      FROM decided d WHERE m.id = d.id
    RETURNING m.id, m.status, m.kind, m.alert_id, m.dest_type, m.user_id, m.last_error
), logged AS ({_FAILED_LOG})
SELECT id, status FROM done
"""

_TAKE_BACK = f"""
WITH stuck AS (
    SELECT id, attempts >= max_attempts AS give_up FROM outgoing_messages
    WHERE status = 'sending' AND claimed_until < now()
    ORDER BY claimed_until LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), done AS (
    UPDATE outgoing_messages m
       SET status = CASE WHEN s.give_up THEN 'failed' ELSE 'pending' END,
           last_error = %(error)s, not_before = now(),
           failed_at = CASE WHEN s.give_up THEN now() END,
           claimed_until = NULL, job_id = NULL, updated_at = now()
      FROM stuck s WHERE m.id = s.id
    RETURNING m.id, m.status, m.kind, m.alert_id, m.dest_type, m.user_id, m.last_error,
              m.claimed_by
), logged AS ({_FAILED_LOG})
SELECT id, status FROM done
"""


def claim(
    conn: psycopg.Connection[Any], ids: Sequence[int], worker: str, claim_seconds: float
) -> list[dict[str, Any]]:
    """Claim the still-pending, due messages among `ids` for `worker`; their rows joined with
    everything needed to render them. Ids missing from the answer are someone else's (or not
    due, or already done): the caller must not send them."""
    cur = conn.execute(_CLAIM, {"ids": list(ids), "worker": worker, "claim": claim_seconds})
    return [dict(row) for row in cur.fetchall()]


@dataclass(frozen=True)
class Claim:
    """Whose send a record applies to: the claim must still be this one."""

    message_id: int
    worker: str
    attempt: int

    def params(self) -> dict[str, Any]:
        return {"id": self.message_id, "worker": self.worker, "attempt": self.attempt}


@dataclass(frozen=True)
class Accepted:
    """A send the provider accepted, to record."""

    owner: Claim
    delivered: bool
    provider_message_id: str | None
    log_message: str  # the alert log's line for an alert message


def record_sent(conn: psycopg.Connection[Any], accepted: Sequence[Accepted]) -> set[int]:
    """Record accepted sends in one statement; the ids recorded (the others' claims were no
    longer theirs: the engine took them back). All must share one worker."""
    if not accepted:
        return set()
    workers = {a.owner.worker for a in accepted}
    assert len(workers) == 1, "one worker's sends at a time"
    rows = conn.execute(
        _SENT,
        {
            "worker": workers.pop(),
            "ids": [a.owner.message_id for a in accepted],
            "attempts": [a.owner.attempt for a in accepted],
            "delivered": [a.delivered for a in accepted],
            "provider_ids": [a.provider_message_id for a in accepted],
            "log_messages": [a.log_message for a in accepted],
        },
    ).fetchall()
    return {int(_col(r, "id", 0)) for r in rows}


def record_failure(
    conn: psycopg.Connection[Any], owner: Claim, *, error: str, permanent: bool, delay: float
) -> str | None:
    """Record a failed send: the new status ('pending' for a retry after `delay` seconds, or
    'failed'), or None if the claim was no longer ours. A retry wakes the engine."""
    row = conn.execute(
        _FAILURE,
        {**owner.params(), "error": error[:2000], "permanent": permanent, "delay": delay},
    ).fetchone()
    if row is None:
        return None
    status = str(_col(row, "status", 1))
    if status == "pending":
        wake_engine(conn, owner.message_id)
    return status


def wake_engine(conn: psycopg.Connection[Any], message_id: int) -> None:
    """NOTIFY the engine (delivered on commit): a message has new work due."""
    conn.execute(
        f"SELECT pg_notify('{EVENTS_CHANNEL}', json_build_object('message_id', %s::bigint)::text)",
        (message_id,),
    )


def take_back_stuck(conn: psycopg.Connection[Any]) -> list[tuple[int, str]]:
    """Messages left `sending` past their claim (the worker died mid-send) go back to
    `pending`, or to `failed` when that was their last attempt: [(id, new status)]."""
    rows = conn.execute(
        _TAKE_BACK, {"limit": TAKE_BACK_LIMIT, "error": TAKEN_BACK_ERROR}
    ).fetchall()
    return [(int(_col(r, "id", 0)), str(_col(r, "status", 1))) for r in rows]


# ------------------------------------------------------------------------------- dispatch


@dataclass(frozen=True)
class Candidate:
    """A due pending message that may need a job."""

    id: int
    dest_type: str
    provider: str
    destination: str  # contact method or channel id
    attempts: int
    enqueue_count: int
    job_id: str | None  # the job queued last time, if any (older than the grace period)
    enqueued_at: datetime | None
    waited: float  # seconds since it fell due


_CANDIDATES = """
SELECT id, dest_type, provider, coalesce(contact_method_id, channel_id)::text AS destination,
       attempts, enqueue_count, job_id, enqueued_at,
       extract(epoch FROM now() - not_before)::float8 AS waited
FROM outgoing_messages
WHERE status = 'pending' AND not_before <= now()
  AND (job_id IS NULL OR enqueued_at < now() - make_interval(secs => %(grace)s))
ORDER BY job_id IS NOT NULL, not_before, id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""


def due_candidates(conn: psycopg.Connection[Any], grace: float, limit: int) -> list[Candidate]:
    """Due pending messages with no job, or whose job was queued more than `grace` seconds
    ago (it may be gone: Redis flushed, engine died between commit and enqueue), locked for
    this transaction; never-queued ones first."""
    rows = conn.execute(_CANDIDATES, {"grace": grace, "limit": limit}).fetchall()
    return [Candidate(**dict(row)) for row in rows]


_HISTORY = """
SELECT t.dest::text AS destination,
       coalesce(array_agg(extract(epoch FROM m.enqueued_at)::float8 ORDER BY m.enqueued_at)
                FILTER (WHERE m.id IS NOT NULL), '{}') AS times
FROM unnest(%(dests)s::uuid[], %(windows)s::float8[]) AS t(dest, win)
LEFT JOIN outgoing_messages m
       ON (m.contact_method_id = t.dest OR m.channel_id = t.dest)
      AND m.enqueued_at >= now() - make_interval(secs => t.win)
      AND m.id <> ALL(%(exclude)s)
GROUP BY t.dest
"""


def throttle_history(
    conn: psycopg.Connection[Any], windows: dict[str, float], exclude: Sequence[int]
) -> dict[str, list[float]]:
    """For each destination, when (Unix seconds, ascending) messages were queued to it within
    its window, not counting `exclude`."""
    if not windows:
        return {}
    rows = conn.execute(
        _HISTORY,
        {"dests": list(windows), "windows": list(windows.values()), "exclude": list(exclude)},
    ).fetchall()
    return {str(r["destination"]): [float(t) for t in r["times"]] for r in rows}


def defer(conn: psycopg.Connection[Any], until: dict[int, datetime]) -> None:
    """Push messages' not_before forward (a destination throttle is full)."""
    if until:
        conn.execute(
            "UPDATE outgoing_messages m SET not_before = t.at, updated_at = now() "
            "FROM unnest(%s::bigint[], %s::timestamptz[]) AS t(id, at) WHERE m.id = t.id",
            (list(until), list(until.values())),
        )


def mark_enqueued(conn: psycopg.Connection[Any], job_ids: dict[int, str]) -> None:
    """Note the job each message is about to be queued in (committed before it is queued)."""
    if job_ids:
        conn.execute(
            "UPDATE outgoing_messages m SET enqueued_at = now(), "
            "enqueue_count = m.enqueue_count + 1, job_id = t.job_id, updated_at = now() "
            "FROM unnest(%s::bigint[], %s::text[]) AS t(id, job_id) WHERE m.id = t.id",
            (list(job_ids), list(job_ids.values())),
        )


_NEXT_DUE = """
SELECT extract(epoch FROM (SELECT min(not_before) FROM outgoing_messages
                           WHERE status = 'pending' AND job_id IS NULL) - now()) AS due,
       extract(epoch FROM (SELECT min(enqueued_at) FROM outgoing_messages
                           WHERE status = 'pending' AND job_id IS NOT NULL)
                          + make_interval(secs => %(grace)s) - now()) AS grace,
       extract(epoch FROM (SELECT min(claimed_until) FROM outgoing_messages
                           WHERE status = 'sending') - now()) AS claim
"""


def next_due(conn: psycopg.Connection[Any], grace: float) -> dict[str, float | None]:
    """Seconds until the soonest not_before of an unqueued message ('due'), grace expiry of a
    queued one ('grace') and claim expiry of a send ('claim'); None where there is none."""
    row = conn.execute(_NEXT_DUE, {"grace": grace}).fetchone()
    assert row is not None
    return {k: None if row[k] is None else float(row[k]) for k in ("due", "grace", "claim")}


def _col(row: Any, name: str, index: int) -> Any:
    return row[name] if isinstance(row, dict) else row[index]


# ---- outcomes a provider reports later (Twilio's status callbacks) ------------------------------

_PROVIDER_DELIVERED = """
UPDATE outgoing_messages SET status = 'delivered', delivered_at = now(), updated_at = now()
WHERE provider = %(provider)s AND provider_message_id = %(sid)s AND status = 'sent'
RETURNING id
"""
_PROVIDER_FAILED = f"""
WITH done AS (
    UPDATE outgoing_messages
       SET status = 'failed', failed_at = now(), last_error = %(error)s, updated_at = now()
     WHERE provider = %(provider)s AND provider_message_id = %(sid)s AND status = 'sent'
    RETURNING id, status, kind, alert_id, dest_type, user_id, last_error
), logged AS ({_FAILED_LOG})
SELECT id FROM done
"""


def provider_delivered(conn: psycopg.Connection[Any], provider: str, sid: str) -> list[int]:
    """The sent message `provider` knows as `sid` was delivered; the ids of those marked so."""
    rows = conn.execute(_PROVIDER_DELIVERED, {"provider": provider, "sid": sid}).fetchall()
    return [_col(row, "id", 0) for row in rows]


def provider_failed(
    conn: psycopg.Connection[Any], provider: str, sid: str, error: str
) -> list[int]:
    """The sent message `provider` knows as `sid` failed after all (an alert's failure is logged
    on the alert); the ids of those marked so."""
    rows = conn.execute(
        _PROVIDER_FAILED, {"provider": provider, "sid": sid, "error": error}
    ).fetchall()
    return [_col(row, "id", 0) for row in rows]


# -- the message log (read only) ------------------------------------------------------------

MESSAGE_COLUMNS = """
    id, kind, status, dest_type, provider, contact_method_id::text AS contact_method_id,
    channel_id::text AS channel_id, user_id::text AS user_id, alert_id,
    schedule_id::text AS schedule_id, attempts, max_attempts, provider_message_id, last_error,
    not_before, created_at, updated_at, sent_at, delivered_at, failed_at
"""
# filter name -> its condition (values are bound parameters, never SQL text)
MESSAGE_FILTERS = {
    "status": "status = %(status)s",
    "kind": "kind = %(kind)s",
    "alert_id": "alert_id = %(alert_id)s",
    "user_id": "user_id = %(user_id)s",
    "contact_method_id": "contact_method_id = %(contact_method_id)s",
    "channel_id": "channel_id = %(channel_id)s",
    "since": "created_at >= %(since)s",
    "until": "created_at < %(until)s",
    "before_id": "id < %(before_id)s",
}


def list_messages(
    conn: psycopg.Connection[Any], filters: dict[str, Any], limit: int
) -> list[dict[str, Any]]:
    """At most `limit` messages, newest first, matching every filter that is not None."""
    clauses = ["TRUE"] + [
        MESSAGE_FILTERS[key] for key, value in filters.items() if value is not None
    ]
    return conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM outgoing_messages WHERE {' AND '.join(clauses)} "
        "ORDER BY id DESC LIMIT %(limit)s",
        {**filters, "limit": limit},
    ).fetchall()


def get_message(conn: psycopg.Connection[Any], message_id: int) -> dict[str, Any] | None:
    """One message with every status it passed through (`history`, oldest first), or None."""
    row = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM outgoing_messages WHERE id = %s", (message_id,)
    ).fetchone()
    if row is None:
        return None
    history = conn.execute(
        "SELECT status, attempt, error, provider_message_id, at FROM message_events "
        "WHERE message_id = %s ORDER BY id",
        (message_id,),
    ).fetchall()
    return {**row, "history": history}


# For /metrics, beside app.alerts.store.COUNT_BY_SOURCE_AND_STATUS (same columns, one round trip).
COUNT_BY_PROVIDER_AND_STATUS = """
SELECT 'message', provider, status, count(*), 0 FROM outgoing_messages GROUP BY provider, status
"""


def twilio_alert_message(conn: psycopg.Connection[Any], message_id: int) -> dict[str, Any] | None:
    """A Twilio message about an alert that still exists (id, alert_id, user_id, cm_id): what a
    keypad press during its call acts on."""
    return conn.execute(
        "SELECT m.id, m.alert_id, m.user_id::text AS user_id, m.contact_method_id::text AS cm_id "
        "FROM outgoing_messages m JOIN alerts a ON a.id = m.alert_id "
        "WHERE m.id = %s AND m.provider = 'twilio'",
        (message_id,),
    ).fetchone()
