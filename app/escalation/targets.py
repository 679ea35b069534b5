"""Who a firing step engages: users directly, schedules and rotations through whoever is on call
at that instant (app.oncall.resolve), channels as channels.

A `Resolver` lives for one engine pass: every alert whose step names the same schedule at the
same instant shares one on-call computation, so a storm of alerts costs one lookup per schedule.
A shift change while an alert is open pages nobody by itself; the new person is paged only when
a later step (or a repeat, or a forced escalation) fires and resolves the schedule again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import structlog

from app.escalation.policy_snapshot import Step
from app.oncall import resolve

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Engaged:
    users: tuple[str, ...]  # sorted, each once
    channels: tuple[str, ...]


class Resolver:
    """Resolves step targets at one instant, caching schedule and rotation lookups."""

    def __init__(self, conn: psycopg.Connection[Any], at: datetime) -> None:
        self._conn = conn
        self._at = at
        self._cache: dict[tuple[str, str], tuple[str, ...]] = {}

    def users_of(self, target_type: str, target_id: str) -> tuple[str, ...]:
        key = (target_type, target_id)
        if key not in self._cache:
            try:
                found = resolve.target_on_call(self._conn, target_type, target_id, self._at)
            except ValueError as exc:  # a target that cannot be computed must not stall a batch
                log.warning(
                    "escalation_target_not_computable",
                    target_type=target_type,
                    target_id=target_id,
                    error=str(exc),
                )
                found = []
            self._cache[key] = tuple(found)
        return self._cache[key]

    def step(self, step: Step) -> Engaged:
        users: set[str] = set()
        channels: list[str] = []
        for target in step.targets:
            if target.type == "channel":
                channels.append(target.id)
            else:
                users.update(self.users_of(target.type, target.id))
        return Engaged(tuple(sorted(users)), tuple(sorted(set(channels))))
