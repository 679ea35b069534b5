"""The alert log (`alert_logs`): what happened to an alert, who did it and when. Its only writer.

Most entries are written inside the statement that makes the change they record (a raise, a
status change, a check-in, a delivery outcome), so the change and its entry commit together in
one round trip: those statements compose the fragments here. The engine's passes log what a
batch decided with one set-based statement each (the functions at the end).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from app.platform import engine_pass

# An entry's id taken in advance, by a statement that must know it before inserting the entry.
NEXT_ID = "nextval(pg_get_serial_sequence('alert_logs', 'id'))"


def insert_sql(columns: str, rows: str) -> str:
    """An INSERT of the entries the SELECT `rows` yields (as `columns`): the body of a CTE in
    the statement that made the change they record."""
    return f"INSERT INTO alert_logs ({columns})\n{rows}"


# ---- a raise's entries (app.alerts.store, app.ingest.fastpath) --------------------------------


def raise_logs(actor_type: str, actor_id: str, meta: str) -> str:
    """The CTEs `logged` and `counted` that log what the `upsert` CTE did (SQL expressions for
    the actor and the created entry's meta): `created`, or the window's duplicate entry."""
    return f"""
logged AS (
    INSERT INTO alert_logs (id, alert_id, event, actor_type, actor_id, meta)
    OVERRIDING SYSTEM VALUE
    SELECT CASE WHEN is_new THEN {NEXT_ID} ELSE duplicate_log_id END, id,
           CASE WHEN is_new THEN 'created' ELSE 'duplicate_suppressed' END,
           {actor_type}, {actor_id},
           CASE WHEN is_new THEN {meta}::jsonb ELSE '{{"count": 1}}'::jsonb END
    FROM upsert WHERE is_new OR duplicate_window_count = 1
), counted AS ({_COUNT_SQL.format(n="u.duplicate_window_count")}
    FROM upsert u
    WHERE NOT u.is_new AND u.duplicate_window_count > 1 AND l.id = u.duplicate_log_id
    RETURNING l.id
)"""


# The final SELECT's columns that say whether the window's count still needs writing (see
# `recount`).
RECOUNT_COLUMNS = """
       NOT upsert.is_new AND upsert.duplicate_window_count > 1
           AND NOT EXISTS (SELECT 1 FROM counted) AS recount,
       upsert.duplicate_log_id, upsert.duplicate_window_count"""
# Counts only grow: concurrent writers of one window's row may land in any order.
_COUNT_SQL = """
    UPDATE alert_logs l SET meta = jsonb_build_object(
        'count', greatest(coalesce((l.meta->>'count')::int, 0), {n}))"""


def recount(conn: psycopg.Connection[Any], row: Mapping[str, Any]) -> None:
    """Write the window's count when the raise statement could not.

    The statement's snapshot is taken before it waits for the alert's row lock, so a window
    opened by a concurrent raise that committed meanwhile has a log row this statement cannot
    see; a new statement can.
    """
    if row["recount"]:
        conn.execute(
            _COUNT_SQL.format(n="%(n)s") + " WHERE l.id = %(id)s",
            {"n": row["duplicate_window_count"], "id": row["duplicate_log_id"]},
        )


# ---- what an engine pass decided --------------------------------------------------------------

# `once` entries are skipped when the alert already has a log entry of that event.
_ENGINE_ENTRIES = """
INSERT INTO alert_logs (alert_id, event, actor_type, actor_id, message, meta)
SELECT v.alert_id, v.event, 'engine', %(actor)s, v.message, v.meta
FROM unnest(%(alert_ids)s::bigint[], %(events)s::text[], %(messages)s::text[],
            %(metas)s::jsonb[], %(once)s::bool[]) AS v(alert_id, event, message, meta, once)
WHERE NOT v.once OR NOT EXISTS (
    SELECT 1 FROM alert_logs l WHERE l.alert_id = v.alert_id AND l.event = v.event)
"""


def add_engine_entries(
    conn: psycopg.Connection[Any], actor: str, entries: Sequence[tuple[int, str, str, Jsonb, bool]]
) -> None:
    """Log (alert id, event, message, meta, once) entries by the engine instance `actor`, in one
    statement; a `once` entry is skipped when its alert has logged that event before."""
    params = engine_pass.columns(
        list(entries), ("alert_ids", "events", "messages", "metas", "once")
    )
    conn.execute(_ENGINE_ENTRIES, {**params, "actor": actor})


# Once per engagement: a user's failure is logged again only when they are engaged again.
_UNREACHABLE = """
INSERT INTO alert_logs (alert_id, event, actor_type, actor_id, message, meta)
SELECT v.alert_id, 'notification_failed', 'engine', %(actor)s, v.message,
       jsonb_build_object('user_id', v.user_id, 'seq', v.seq)
FROM unnest(%(alert_ids)s::bigint[], %(user_ids)s::text[], %(seqs)s::int[], %(messages)s::text[])
     AS v(alert_id, user_id, seq, message)
WHERE NOT EXISTS (
    SELECT 1 FROM alert_logs l
    WHERE l.alert_id = v.alert_id AND l.event = 'notification_failed'
      AND l.meta @> jsonb_build_object('user_id', v.user_id, 'seq', v.seq))
"""


def add_unreachable(
    conn: psycopg.Connection[Any], actor: str, failures: Sequence[tuple[int, str, int, str]]
) -> None:
    """Log `notification_failed` for each (alert id, user id, engagement seq, why) in one
    statement, once per engagement."""
    params = engine_pass.columns(list(failures), ("alert_ids", "user_ids", "seqs", "messages"))
    conn.execute(_UNREACHABLE, {**params, "actor": actor})


# ---- what changed lately (the web app's alert list polls it) -----------------------------------


def latest_entry_id(conn: psycopg.Connection[Any]) -> int:
    """The id of the newest log entry of any alert (0: none). Every raise and status change
    logs an entry, so a list showing alerts as of this id is current while it stays the same;
    one index probe, cheap enough to ask every 2 s from every open tab."""
    row = conn.execute("SELECT coalesce(max(id), 0) AS id FROM alert_logs").fetchone()
    return int(row["id"]) if row else 0
