"""The `schedule_rules` table: which user or rotation a schedule puts on call on which local
weekdays and times. (Not a user's notification rules: those are app.contacts'.)

Weekdays are a list of 0 (Monday) … 6 (Sunday) in the API and a bitmask in the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import time
from typing import Any

from psycopg import sql

from app.oncall.model import ScheduleRule
from app.oncall.rows import After, Conn, Row, one
from app.platform.sql_fragments import keyset_page

SCHEDULE_RULE_COLUMNS = (
    "id::text AS id, schedule_id::text AS schedule_id, target_type, "
    "coalesce(user_id, rotation_id)::text AS target_id, weekdays, start_time, end_time, created_at"
)


def weekdays_mask(days: Iterable[int]) -> int:
    return sum(1 << day for day in set(days))


def weekdays_list(mask: int) -> list[int]:
    return [day for day in range(7) if mask & (1 << day)]


def _api_row(row: Row) -> Row:
    return {**row, "weekdays": weekdays_list(row["weekdays"])}


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    """API rule fields as columns: the target goes to user_id or rotation_id."""
    columns = {k: v for k, v in fields.items() if k not in ("target_type", "target_id", "weekdays")}
    if "weekdays" in fields:
        columns["weekdays"] = weekdays_mask(fields["weekdays"])
    if "target_type" in fields:
        columns["target_type"] = fields["target_type"]
        is_user = fields["target_type"] == "user"
        columns["user_id"] = fields["target_id"] if is_user else None
        columns["rotation_id"] = None if is_user else fields["target_id"]
    return columns


def create_schedule_rule(conn: Conn, schedule_id: str, fields: dict[str, Any]) -> Row:
    columns = {**_columns(fields), "schedule_id": schedule_id}
    query = sql.SQL("INSERT INTO schedule_rules ({}) VALUES ({}) RETURNING {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(map(sql.Placeholder, columns)),
        sql.SQL(SCHEDULE_RULE_COLUMNS),
    )
    row = one(conn.execute(query, columns))
    assert row is not None
    return _api_row(row)


def get_schedule_rule(conn: Conn, schedule_id: str, rule_id: str) -> Row | None:
    row = one(
        conn.execute(
            f"SELECT {SCHEDULE_RULE_COLUMNS} FROM schedule_rules "
            "WHERE id = %s AND schedule_id = %s",
            (rule_id, schedule_id),
        )
    )
    return _api_row(row) if row else None


def list_schedule_rules(
    conn: Conn, schedule_id: str, after: After = None, limit: int = 50
) -> list[Row]:
    rows = keyset_page(
        conn,
        SCHEDULE_RULE_COLUMNS,
        "schedule_rules",
        after,
        limit,
        "schedule_id = %(schedule_id)s",
        schedule_id=schedule_id,
    )
    return [_api_row(dict(row)) for row in rows]


def update_schedule_rule(
    conn: Conn, schedule_id: str, rule_id: str, fields: dict[str, Any]
) -> Row | None:
    columns = _columns(fields)
    if columns:
        query = sql.SQL("UPDATE schedule_rules SET {} WHERE id = {} AND schedule_id = {}").format(
            sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in columns
            ),
            sql.Placeholder("_id"),
            sql.Placeholder("_schedule_id"),
        )
        conn.execute(query, {**columns, "_id": rule_id, "_schedule_id": schedule_id})
    return get_schedule_rule(conn, schedule_id, rule_id)


def delete_schedule_rule(conn: Conn, schedule_id: str, rule_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM schedule_rules WHERE id = %s AND schedule_id = %s", (rule_id, schedule_id)
        ).rowcount
        > 0
    )


def schedule_rule_values(conn: Conn, schedule_id: str) -> tuple[ScheduleRule, ...]:
    """All the schedule's rules as model values, in the order they were made."""
    rows = conn.execute(
        f"SELECT {SCHEDULE_RULE_COLUMNS} FROM schedule_rules WHERE schedule_id = %s "
        "ORDER BY created_at, id",
        (schedule_id,),
    ).fetchall()
    return tuple(_value(row) for row in rows)


def schedule_rule_values_many(
    conn: Conn, schedule_ids: list[str]
) -> dict[str, tuple[ScheduleRule, ...]]:
    """`schedule_rule_values` of several schedules in one query, by schedule id."""
    rows = conn.execute(
        f"SELECT schedule_id::text AS sid, {SCHEDULE_RULE_COLUMNS} FROM schedule_rules "
        "WHERE schedule_id = ANY(%s::uuid[]) ORDER BY created_at, id",
        (schedule_ids,),
    ).fetchall()
    found: dict[str, list[ScheduleRule]] = {sid: [] for sid in schedule_ids}
    for row in rows:
        found[row["sid"]].append(_value(row))
    return {sid: tuple(values) for sid, values in found.items()}


def _value(row: Row) -> ScheduleRule:
    start_time: time = row["start_time"]
    end_time: time = row["end_time"]
    return ScheduleRule(
        target_type=row["target_type"],
        target_id=row["target_id"],
        weekdays=frozenset(weekdays_list(row["weekdays"])),
        start_time=start_time,
        end_time=end_time,
    )
