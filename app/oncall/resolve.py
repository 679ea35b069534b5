"""Who an escalation target puts on call at an instant: the bridge between policies and on-call.

Used by the engine when a step fires (it pages whoever is on call at that moment) and by the API
("who is on call for this service"). Connections must use the dict row factory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
import structlog

from app.oncall import compute, notices
from app.oncall.loading import load_schedule, load_schedules, rotation_ids_of
from app.oncall.model import Rotation, Schedule
from app.oncall.rotations import load_rotations

log = structlog.get_logger(__name__)


def schedule_on_call(conn: psycopg.Connection[Any], schedule_id: str, at: datetime) -> list[str]:
    """User ids the schedule has on call at `at` (empty when it cannot be computed, logged)."""
    schedule = load_schedule(conn, schedule_id)
    if schedule is None:
        return []
    rotations = load_rotations(conn, rotation_ids_of(schedule))
    try:
        return sorted(compute.on_call_now(schedule, rotations, at))
    except ValueError as exc:  # e.g. a rotation lost its last participant
        log.warning("schedule_not_computable", schedule_id=schedule_id, error=str(exc))
        return []


def rotation_on_call(conn: psycopg.Connection[Any], rotation_id: str, at: datetime) -> list[str]:
    """The user the rotation has on call at `at` (empty before its start or with no one)."""
    rotation = load_rotations(conn, [rotation_id]).get(rotation_id)
    if rotation is None or not rotation.participants:
        return []
    user = compute.rotation_on_call_at(rotation, at)
    return [] if user is None else [user]


def target_on_call(
    conn: psycopg.Connection[Any], target_type: str, target_id: str, at: datetime
) -> list[str]:
    """User ids a step target engages at `at`; channels engage no user (empty)."""
    if target_type == "user":
        return [target_id]
    if target_type == "schedule":
        return schedule_on_call(conn, target_id, at)
    if target_type == "rotation":
        return rotation_on_call(conn, target_id, at)
    return []


def targets_on_call(
    conn: psycopg.Connection[Any], targets: set[tuple[str, str]], at: datetime
) -> dict[tuple[str, str], list[str]]:
    """`target_on_call` of many targets in a fixed number of queries (every schedule and
    rotation loaded at once), by (type, id); a target that cannot be computed engages nobody
    (logged), as in `schedule_on_call`."""
    return load_targets(conn, targets).on_call(at)


@dataclass(frozen=True)
class LoadedTargets:
    """Step targets with every schedule and rotation they need, loaded once: who they have on
    call can then be asked at any number of instants without another query (the policy
    preview asks at each minute a step fires)."""

    targets: frozenset[tuple[str, str]]
    schedules: dict[str, Schedule]
    rotations: dict[str, Rotation]

    def on_call(
        self, at: datetime, wanted: Iterable[tuple[str, str]] | None = None
    ) -> dict[tuple[str, str], list[str]]:
        """Who each target (or each of `wanted`, among them) engages at `at`, by (type, id);
        one that cannot be computed engages nobody (logged)."""
        found: dict[tuple[str, str], list[str]] = {}
        for target_type, target_id in self.targets if wanted is None else set(wanted):
            key = (target_type, target_id)
            try:
                found[key] = _one_of_many(
                    target_type, target_id, at, self.schedules, self.rotations
                )
            except ValueError as exc:  # e.g. a rotation lost its last participant
                log.warning(
                    "target_not_computable", target=target_type, id=target_id, error=str(exc)
                )
                found[key] = []
        return found


def load_targets(conn: psycopg.Connection[Any], targets: set[tuple[str, str]]) -> LoadedTargets:
    """The schedules and rotations these (type, id) targets name, in a fixed number of queries."""
    schedule_ids = sorted(i for t, i in targets if t == "schedule")
    loaded = load_schedules(conn, schedule_ids)
    wanted = {i for t, i in targets if t == "rotation"}
    for schedule in loaded.values():
        wanted |= rotation_ids_of(schedule)
    return LoadedTargets(frozenset(targets), loaded, load_rotations(conn, wanted))


def _one_of_many(
    target_type: str,
    target_id: str,
    at: datetime,
    loaded: Mapping[str, Schedule],
    rotations: Mapping[str, Rotation],
) -> list[str]:
    if target_type == "user":
        return [target_id]
    if target_type == "schedule":
        schedule = loaded.get(target_id)
        return [] if schedule is None else sorted(compute.on_call_now(schedule, rotations, at))
    if target_type == "rotation":
        rotation = rotations.get(target_id)
        if rotation is None or not rotation.participants:
            return []
        user = compute.rotation_on_call_at(rotation, at)
        return [] if user is None else [user]
    return []


def target_next_handoff(
    conn: psycopg.Connection[Any],
    target_type: str,
    target_id: str,
    at: datetime,
    horizon: timedelta,
) -> datetime | None:
    """When the people a schedule or rotation target has on call next change after `at`
    (within `horizon`); None for users and channels, or when nothing changes that soon."""
    end = at + horizon
    try:
        if target_type == "schedule":
            schedule = load_schedule(conn, target_id)
            if schedule is None:
                return None
            rotations = load_rotations(conn, rotation_ids_of(schedule))
            shifts = compute.schedule_shifts(schedule, rotations, at, end)
        elif target_type == "rotation":
            rotation = load_rotations(conn, [target_id]).get(target_id)
            if rotation is None or not rotation.participants:
                return None
            shifts = compute.rotation_shifts(rotation, at, end)
        else:
            return None
    except ValueError as exc:  # not computable (logged as schedule_on_call does)
        log.warning("target_not_computable", target_id=target_id, error=str(exc))
        return None
    return notices.next_boundary(shifts, at, end)
