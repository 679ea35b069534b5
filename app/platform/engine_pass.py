"""What an engine pass is, and the loop every pass shares: bounded batches, each its own
transaction.

A pass (`EngineModule`) is one unit of the engine's work, run once per cycle under its own
timeout. Each lives beside its domain (app/<domain>/*_pass.py); workers.engine lists them in the
order a cycle runs them and imports them, never the other way round.

A batch locks at most `batch` rows (`FOR UPDATE SKIP LOCKED`), acts on them and commits, so a
second engine (a leader that has not noticed it lost its lock) works on other rows, and a crash
loses at most one uncommitted batch, which the next pass redoes. A module keeps taking batches
while they come back full, within a time budget well inside its timeout; if work is left over
it says so (due in 0 s) and the engine comes straight back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from redis import Redis

from app.platform.pool import Database
from config.settings import Settings

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class ModuleContext:
    settings: Settings
    redis: Redis
    database: Database  # the engine's pool; modules take a transaction each time they run


@dataclass(frozen=True)
class EngineModule:
    """One unit of engine work, run once per cycle under its own timeout.

    `run` may return how many seconds until it next has work due (e.g. an escalation step or a
    retry), so the engine wakes for it instead of waiting for its tick; None means "no idea".
    """

    name: str
    run: Callable[[ModuleContext], float | None]
    timeout: float


def run_batches(
    ctx: ModuleContext,
    one_batch: Callable[[Conn], int],
    due_in: Callable[[Conn], float | None] | None,
    batch: int,
    budget: float,
) -> float | None:
    """Run `one_batch` (returns rows handled) until a batch is not full or `budget` seconds
    have passed; then the seconds until the module's next due work (0 if work is left; None
    when the module cannot tell, i.e. `due_in` is None)."""
    deadline = time.monotonic() + budget
    while True:
        with ctx.database.transaction() as conn:
            handled = one_batch(conn)
        if handled < batch:
            break
        if time.monotonic() >= deadline:
            return 0.0
    if due_in is None:
        return None
    with ctx.database.transaction() as conn:
        return due_in(conn)


def seconds_until(conn: Conn, sql: str) -> float | None:
    """Run `sql` (one row, one column: an interval from now, or NULL); seconds, at least 0."""
    row = conn.execute(sql).fetchone()
    value = None if row is None else next(iter(row.values()))
    if value is None:
        return None
    return max(0.0, float(value.total_seconds()))


def columns(rows: list[tuple[Any, ...]], names: tuple[str, ...]) -> dict[str, Any]:
    """Rows as one list per named column: the parameters of an `unnest(...)` statement."""
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}
