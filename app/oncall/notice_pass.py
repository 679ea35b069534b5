"""On-call notices: post to a schedule's notice channel each time its on-call set changes.

For every schedule with a `notice_channel_id`, compute who is on call now (the schedule's shifts
for the next day, from app.oncall.compute, overrides and temporary schedules included) and
compare with `schedules.notice_state`, the sorted user ids the last notice announced. On a
change, an `oncall_notice` message goes to the channel with payload {"schedule_id",
"schedule_name", "users": [{"id", "name"}], "previous": [...]} and dedup key
`oncall:<schedule>:<hash of the new set>:<time>`, and the new set is stored. The first look at a
schedule (notice_state NULL, e.g. a channel just set) records the set without posting, so
configuring notices does not announce a shift that began long ago.

The module returns the seconds until the soonest shift start or end in the next day of any such
schedule, capped at CAP, so the engine wakes at the handoff; the engine's own tick (and any
NOTIFY) catches changes made through the API (a new override) in between. A schedule that cannot
be computed (a rotation lost its last participant) is logged and skipped.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta
from typing import Any

import psycopg
import structlog

from app.messages import create
from app.oncall import compute, notices, store
from app.platform.engine_pass import EngineModule, ModuleContext
from config.settings import Settings

log = structlog.get_logger(__name__)

BATCH = 100  # schedules locked and looked at per transaction
TIMEOUT = 20.0  # seconds: the engine's limit on one run of this module
BUDGET = TIMEOUT / 2
HORIZON = timedelta(days=1)  # how far ahead shift boundaries are computed
CAP = timedelta(hours=1)  # longest wait this module asks for

_SCHEDULES = """
SELECT id::text AS id, name, notice_channel_id::text AS channel_id, notice_state, now() AS now
FROM schedules
WHERE notice_channel_id IS NOT NULL AND id > %(after)s::uuid
ORDER BY id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""

_NAMES = "SELECT id::text AS id, name FROM users WHERE id = ANY(%(ids)s::uuid[])"
FIRST = "00000000-0000-0000-0000-000000000000"


def one_batch(
    conn: psycopg.Connection[Any], settings: Settings, after: str, batch: int = BATCH
) -> tuple[list[str], float | None]:
    """Look at up to `batch` schedules after id `after`: their ids and the soonest wait."""
    rows = conn.execute(_SCHEDULES, {"after": after, "limit": batch}).fetchall()
    waits = [w for row in rows if (w := _look(conn, settings, row)) is not None]
    return [row["id"] for row in rows], min(waits, default=None)


def _look(conn: psycopg.Connection[Any], settings: Settings, row: dict[str, Any]) -> float | None:
    """Announce a change of one schedule's on-call set; seconds until it may change next."""
    now: datetime = row["now"]
    schedule = store.load_schedule(conn, row["id"])
    if schedule is None:
        return None
    rotations = store.load_rotations(conn, store.rotation_ids_of(schedule))
    try:
        shifts = compute.schedule_shifts(schedule, rotations, now, now + HORIZON)
    except ValueError as exc:
        log.warning("oncall_notice_not_computable", schedule_id=row["id"], error=str(exc))
        return None
    current = notices.state_of(compute.on_call_at(shifts, now))
    previous = notices.announced(row["notice_state"])
    if previous != current:
        if previous is not None:
            _post(conn, settings, row, current, previous)
        store.store_notice_state(conn, row["id"], current)
    boundary = notices.next_boundary(shifts, now, now + HORIZON)
    return notices.seconds_to(boundary, now, CAP)


def _post(
    conn: psycopg.Connection[Any],
    settings: Settings,
    row: dict[str, Any],
    current: list[str],
    previous: list[str],
) -> None:
    names = {
        r["id"]: r["name"]
        for r in conn.execute(_NAMES, {"ids": sorted({*current, *previous})}).fetchall()
    }
    payload = {
        "schedule_id": row["id"],
        "schedule_name": row["name"],
        "users": [{"id": u, "name": names.get(u)} for u in current],
        "previous": [{"id": u, "name": names.get(u)} for u in previous],
    }
    digest = hashlib.sha256(",".join(current).encode()).hexdigest()[:16]
    at = int(row["now"].timestamp() * 1e6)
    message_id = create.to_channel(
        conn,
        "oncall_notice",
        row["channel_id"],
        f"oncall:{row['id']}:{digest}:{at}",
        max_attempts=settings.delivery.max_attempts,
        schedule_id=row["id"],
        payload=payload,
    )
    log.info("oncall_notice_queued", schedule_id=row["id"], message_id=message_id, users=current)


def run(ctx: ModuleContext) -> float | None:
    deadline = time.monotonic() + BUDGET
    after, soonest = FIRST, None
    while time.monotonic() < deadline:
        with ctx.database.transaction() as conn:
            ids, wait = one_batch(conn, ctx.settings, after)
        if wait is not None:
            soonest = wait if soonest is None else min(soonest, wait)
        if len(ids) < BATCH:
            return soonest
        after = ids[-1]
    return 0.0


MODULE = EngineModule("oncall_notices", run, TIMEOUT)
