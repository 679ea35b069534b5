"""The one shape every sender's payload becomes, and how a batch of them is written.

A parser turns a request into `Event`s without touching the database; `apply` writes them
with the alert store inside the transaction that verified the integration key, so an alert is
reported accepted only once it is committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg

from app.alerts import store
from app.alerts.store import Actor
from app.directory.integration_keys import IntegrationKey

Action = Literal["trigger", "acknowledge", "close"]
# store status each non-trigger action moves an alert to
_TARGET_STATUS = {"acknowledge": "acknowledged", "close": "closed"}


@dataclass(frozen=True)
class Event:
    """One thing a sender says about one alert."""

    action: Action
    summary: str
    details: str = ""
    dedup: str | None = None  # the sender's key; None: the automatic key of summary+details
    meta: Mapping[str, str] = field(default_factory=dict)

    def dedup_key(self) -> str:
        """The stored dedup key this event addresses (what raise_alert would store)."""
        if self.dedup:
            return store.user_dedup_key(self.dedup)
        summary = store.fold_summary(self.summary)
        return store.auto_dedup_key(summary, store.clip_details(self.details))


@dataclass(frozen=True)
class Result:
    """What one event did: the alert it touched (None if none) and whether it was new."""

    event: Event
    alert_id: int | None
    is_new: bool = False
    changed: bool = False  # a trigger that opened an alert, or a transition that happened


@dataclass(frozen=True)
class Outcome:
    service_id: str
    results: list[Result]

    def counts(self) -> dict[str, int]:
        """How many events did what, for the JSON answer of the batch endpoints."""
        tally = {"received": len(self.results), "created": 0, "duplicates": 0}
        tally.update(acknowledged=0, closed=0)
        for r in self.results:
            if r.event.action == "trigger":
                tally["created" if r.is_new else "duplicates"] += 1
            elif r.changed:
                tally[_TARGET_STATUS[r.event.action]] += 1
        return tally


def apply(conn: psycopg.Connection[Any], key: IntegrationKey, events: Sequence[Event]) -> Outcome:
    """Write `events` for `key`'s service, in dedup-key order (so two batches touching the
    same alerts lock them in the same order and cannot deadlock); answers in input order."""
    actor = Actor("integration_key", key.id)
    order = sorted(range(len(events)), key=lambda i: events[i].dedup_key())
    results: dict[int, Result] = {}
    for i in order:
        results[i] = _apply_one(conn, key, actor, events[i])
    if results and not any(r.changed for r in results.values()):
        # Only duplicates (or no-op closes): see fastpath's module doc for why these need no
        # WAL flush before the answer.
        conn.execute("SET LOCAL synchronous_commit TO off")
    return Outcome(key.service_id, [results[i] for i in range(len(events))])


def _apply_one(
    conn: psycopg.Connection[Any], key: IntegrationKey, actor: Actor, event: Event
) -> Result:
    if event.action == "trigger":
        raised = store.raise_alert(
            conn,
            key.service_id,
            event.summary,
            event.details,
            dedup=event.dedup,
            source=key.type,
            actor=actor,
            meta=event.meta,
        )
        return Result(event, raised.alert_id, raised.is_new, raised.is_new)
    ids = store.set_status_by_dedup(
        conn, key.service_id, event.dedup_key(), _TARGET_STATUS[event.action], actor
    )
    return Result(event, ids[0] if ids else None, changed=bool(ids))
