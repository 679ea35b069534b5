"""Loading a whole schedule for computation: the plain values of app.oncall.model that
app.oncall.compute reads, gathered from each on-call table's module; and which schedules could
put a user on call."""

from __future__ import annotations

from app.oncall import overrides, schedule_rules, schedules, temporary_schedules
from app.oncall.model import Schedule
from app.oncall.rows import Conn


def load_schedule(conn: Conn, schedule_id: str) -> Schedule | None:
    """The schedule with all its rules, overrides and temporary schedules, as a model value."""
    row = schedules.get_schedule(conn, schedule_id)
    if row is None:
        return None
    return Schedule(
        id=row["id"],
        time_zone=row["time_zone"],
        rules=schedule_rules.schedule_rule_values(conn, schedule_id),
        overrides=overrides.override_values(conn, schedule_id),
        temporary_schedules=temporary_schedules.temporary_schedule_values(conn, schedule_id),
    )


def load_schedules(conn: Conn, schedule_ids: list[str]) -> dict[str, Schedule]:
    """`load_schedule` of several schedules in a fixed number of queries, by id."""
    rows = schedules.get_schedules(conn, schedule_ids)
    ids = sorted(rows)
    rules = schedule_rules.schedule_rule_values_many(conn, ids)
    changes = overrides.override_values_many(conn, ids)
    temporary = temporary_schedules.temporary_schedule_values_many(conn, ids)
    return {
        sid: Schedule(
            id=sid,
            time_zone=rows[sid]["time_zone"],
            rules=rules[sid],
            overrides=changes[sid],
            temporary_schedules=temporary[sid],
        )
        for sid in ids
    }


def rotation_ids_of(schedule: Schedule) -> set[str]:
    """The rotations the schedule's rules name (what app.oncall.rotations.load_rotations loads)."""
    return {rule.target_id for rule in schedule.rules if rule.target_type == "rotation"}


def schedule_ids_for_user(conn: Conn, user_id: str) -> list[str]:
    """Schedules that could put this user on call: by rule, rotation, override or temp shift."""
    rows = conn.execute(
        """
        SELECT schedule_id::text AS id FROM schedule_rules WHERE user_id = %(u)s
        UNION SELECT r.schedule_id::text FROM schedule_rules r
            JOIN rotation_participants p ON p.rotation_id = r.rotation_id WHERE p.user_id = %(u)s
        UNION SELECT schedule_id::text FROM schedule_overrides WHERE add_user_id = %(u)s
        UNION SELECT t.schedule_id::text FROM temporary_schedules t
            JOIN temporary_schedule_shifts s ON s.temporary_schedule_id = t.id
            WHERE s.user_id = %(u)s
        ORDER BY id
        """,
        {"u": user_id},
    ).fetchall()
    return [row["id"] for row in rows]
