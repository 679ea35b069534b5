"""On-call records in Postgres: rotations, schedules and their parts, calendar subscriptions.

Rows come back as dicts shaped for the REST API (text ids, `start`/`end` times); `load_schedule`
and `load_rotations` build the plain values of app.oncall.model that app.oncall.compute reads.
Lists are keyset pages ordered by (created_at, id), like app.directory's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from app.oncall.model import Override, Rotation, Rule, Schedule, Shift, TemporarySchedule
from app.platform import tokens
from app.platform.sql_fragments import keyset_page, update_row

CALENDAR_PREFIX = "klc"  # calendar subscription tokens: klc_<id hex>_<secret>

ROTATION_COLUMNS = (
    "id::text AS id, name, description, type, shift_length, start_at AS start, start_index, "
    "time_zone, created_at, updated_at"
)
SCHEDULE_COLUMNS = "id::text AS id, name, description, time_zone, created_at, updated_at"
RULE_COLUMNS = (
    "id::text AS id, schedule_id::text AS schedule_id, target_type, "
    "coalesce(user_id, rotation_id)::text AS target_id, weekdays, start_time, end_time, created_at"
)
OVERRIDE_COLUMNS = (
    "id::text AS id, schedule_id::text AS schedule_id, kind, add_user_id::text AS add_user_id, "
    "remove_user_id::text AS remove_user_id, start_at AS start, end_at AS end, created_at"
)
TEMPORARY_COLUMNS = (
    "id::text AS id, schedule_id::text AS schedule_id, start_at AS start, end_at AS end, created_at"
)
SUBSCRIPTION_COLUMNS = (
    "id::text AS id, user_id::text AS user_id, schedule_id::text AS schedule_id, created_at, "
    "revoked_at"
)

Conn = psycopg.Connection[Any]
Row = dict[str, Any]
After = tuple[str, str] | None


def _one(cursor: psycopg.Cursor[Any]) -> Row | None:
    row = cursor.fetchone()
    return dict(row) if row else None


def _update(
    conn: Conn, table: str, columns: str, row_id: str, changes: dict[str, Any]
) -> Row | None:
    """UPDATE one row's `changes` (column names come from our code, never from clients); with
    none, the row as it is."""
    return update_row(
        conn, table, columns, "id = %(_id)s", {"_id": row_id}, changes, touch=bool(changes)
    )


# ---- weekdays: a list of 0 (Monday) … 6 (Sunday) in the API, a bitmask in the database ----------


def weekdays_mask(days: Iterable[int]) -> int:
    return sum(1 << day for day in set(days))


def weekdays_list(mask: int) -> list[int]:
    return [day for day in range(7) if mask & (1 << day)]


# ---- schedules' on-call notice channel ---------------------------------------------------------


def notice_channels(conn: Conn, schedule_ids: list[str]) -> dict[str, str | None]:
    """schedule id -> its notice channel id (or None)."""
    rows = conn.execute(
        "SELECT id::text AS id, notice_channel_id::text AS channel_id FROM schedules "
        "WHERE id = ANY(%s::uuid[])",
        (schedule_ids,),
    ).fetchall()
    return {row["id"]: row["channel_id"] for row in rows}


def set_notice_channel(conn: Conn, schedule_id: str, channel_id: str | None) -> None:
    conn.execute(
        "UPDATE schedules SET notice_channel_id = %s, updated_at = now() WHERE id = %s",
        (channel_id, schedule_id),
    )


def store_notice_state(conn: Conn, schedule_id: str, state: list[str]) -> None:
    """Remember the on-call set the schedule's last notice announced (schedules.notice_state)."""
    conn.execute(
        "UPDATE schedules SET notice_state = %(state)s WHERE id = %(id)s",
        {"state": Jsonb(state), "id": schedule_id},
    )


# ---- rotations -----------------------------------------------------------------------------------


def _participants(conn: Conn, rotation_ids: Sequence[str]) -> dict[str, list[str]]:
    rows = conn.execute(
        "SELECT rotation_id::text AS rotation_id, user_id::text AS user_id "
        "FROM rotation_participants WHERE rotation_id = ANY(%s::uuid[]) "
        "ORDER BY rotation_id, position",
        (list(rotation_ids),),
    ).fetchall()
    found: dict[str, list[str]] = {rotation_id: [] for rotation_id in rotation_ids}
    for row in rows:
        found[row["rotation_id"]].append(row["user_id"])
    return found


def _with_participants(conn: Conn, rows: list[Row]) -> list[Row]:
    participants = _participants(conn, [row["id"] for row in rows])
    return [{**row, "participants": participants[row["id"]]} for row in rows]


def _set_participants(conn: Conn, rotation_id: str, user_ids: Sequence[str]) -> None:
    conn.execute("DELETE FROM rotation_participants WHERE rotation_id = %s", (rotation_id,))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO rotation_participants (rotation_id, position, user_id) "
            "VALUES (%s, %s, %s)",
            [(rotation_id, position, user_id) for position, user_id in enumerate(user_ids)],
        )


def create_rotation(conn: Conn, fields: dict[str, Any], participants: Sequence[str]) -> Row:
    """A rotation with its ordered participants (user ids; repeats allowed)."""
    row = _one(
        conn.execute(
            "INSERT INTO rotations (name, description, type, shift_length, start_at, start_index, "
            "time_zone) VALUES (%(name)s, %(description)s, %(type)s, %(shift_length)s, "
            f"%(start)s, %(start_index)s, %(time_zone)s) RETURNING {ROTATION_COLUMNS}",
            fields,
        )
    )
    assert row is not None
    _set_participants(conn, row["id"], participants)
    return {**row, "participants": list(participants)}


def get_rotation(conn: Conn, rotation_id: str) -> Row | None:
    row = _one(
        conn.execute(f"SELECT {ROTATION_COLUMNS} FROM rotations WHERE id = %s", (rotation_id,))
    )
    return _with_participants(conn, [row])[0] if row else None


def list_rotations(conn: Conn, after: After = None, limit: int = 50) -> list[Row]:
    rows = keyset_page(conn, ROTATION_COLUMNS, "rotations", after, limit)
    return _with_participants(conn, [dict(row) for row in rows])


def update_rotation(
    conn: Conn, rotation_id: str, changes: dict[str, Any], participants: Sequence[str] | None
) -> Row | None:
    """Apply `changes` (API field names) and, if given, replace the participants."""
    columns = {("start_at" if key == "start" else key): value for key, value in changes.items()}
    row = _update(conn, "rotations", ROTATION_COLUMNS, rotation_id, columns)
    if row is None:
        return None
    if participants is not None:
        _set_participants(conn, rotation_id, participants)
    return _with_participants(conn, [row])[0]


def delete_rotation(conn: Conn, rotation_id: str) -> bool:
    return conn.execute("DELETE FROM rotations WHERE id = %s", (rotation_id,)).rowcount > 0


def lock_rotation(conn: Conn, rotation_id: str) -> Row | None:
    """The rotation, locked for update (re-basing reads then writes it)."""
    row = _one(
        conn.execute(
            f"SELECT {ROTATION_COLUMNS} FROM rotations WHERE id = %s FOR UPDATE", (rotation_id,)
        )
    )
    return _with_participants(conn, [row])[0] if row else None


def rotation_value(row: Row) -> Rotation:
    """The model value of a rotation row (with its participants)."""
    return Rotation(
        id=row["id"],
        type=row["type"],
        shift_length=row["shift_length"],
        start=row["start"],
        time_zone=row["time_zone"],
        participants=tuple(row["participants"]),
        # Deleting a user deletes their positions: keep the index within what is left.
        start_index=row["start_index"] % max(len(row["participants"]), 1),
    )


def load_rotations(conn: Conn, rotation_ids: Iterable[str]) -> dict[str, Rotation]:
    """Model values of these rotations, by id (missing ids are left out)."""
    ids = sorted(set(rotation_ids))
    if not ids:
        return {}
    rows = conn.execute(
        f"SELECT {ROTATION_COLUMNS} FROM rotations WHERE id = ANY(%s::uuid[])", (ids,)
    ).fetchall()
    return {
        row["id"]: rotation_value(row) for row in _with_participants(conn, [dict(r) for r in rows])
    }


# ---- schedules -----------------------------------------------------------------------------------


def create_schedule(conn: Conn, name: str, time_zone: str, description: str = "") -> Row:
    row = _one(
        conn.execute(
            "INSERT INTO schedules (name, time_zone, description) VALUES (%s, %s, %s) "
            f"RETURNING {SCHEDULE_COLUMNS}",
            (name, time_zone, description),
        )
    )
    assert row is not None
    return row


def get_schedule(conn: Conn, schedule_id: str) -> Row | None:
    return _one(
        conn.execute(f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = %s", (schedule_id,))
    )


def list_schedules(conn: Conn, after: After = None, limit: int = 50) -> list[Row]:
    return keyset_page(conn, SCHEDULE_COLUMNS, "schedules", after, limit)


def update_schedule(conn: Conn, schedule_id: str, changes: dict[str, Any]) -> Row | None:
    return _update(conn, "schedules", SCHEDULE_COLUMNS, schedule_id, changes)


def delete_schedule(conn: Conn, schedule_id: str) -> bool:
    return conn.execute("DELETE FROM schedules WHERE id = %s", (schedule_id,)).rowcount > 0


def _rule_row(row: Row) -> Row:
    return {**row, "weekdays": weekdays_list(row["weekdays"])}


def _rule_columns(fields: dict[str, Any]) -> dict[str, Any]:
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


def create_rule(conn: Conn, schedule_id: str, fields: dict[str, Any]) -> Row:
    columns = {**_rule_columns(fields), "schedule_id": schedule_id}
    query = sql.SQL("INSERT INTO schedule_rules ({}) VALUES ({}) RETURNING {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(map(sql.Placeholder, columns)),
        sql.SQL(RULE_COLUMNS),
    )
    row = _one(conn.execute(query, columns))
    assert row is not None
    return _rule_row(row)


def get_rule(conn: Conn, schedule_id: str, rule_id: str) -> Row | None:
    row = _one(
        conn.execute(
            f"SELECT {RULE_COLUMNS} FROM schedule_rules WHERE id = %s AND schedule_id = %s",
            (rule_id, schedule_id),
        )
    )
    return _rule_row(row) if row else None


def list_rules(conn: Conn, schedule_id: str, after: After = None, limit: int = 50) -> list[Row]:
    rows = keyset_page(
        conn,
        RULE_COLUMNS,
        "schedule_rules",
        after,
        limit,
        "schedule_id = %(schedule_id)s",
        schedule_id=schedule_id,
    )
    return [_rule_row(dict(row)) for row in rows]


def update_rule(conn: Conn, schedule_id: str, rule_id: str, fields: dict[str, Any]) -> Row | None:
    columns = _rule_columns(fields)
    if columns:
        query = sql.SQL("UPDATE schedule_rules SET {} WHERE id = {} AND schedule_id = {}").format(
            sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in columns
            ),
            sql.Placeholder("_id"),
            sql.Placeholder("_schedule_id"),
        )
        conn.execute(query, {**columns, "_id": rule_id, "_schedule_id": schedule_id})
    return get_rule(conn, schedule_id, rule_id)


def delete_rule(conn: Conn, schedule_id: str, rule_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM schedule_rules WHERE id = %s AND schedule_id = %s", (rule_id, schedule_id)
        ).rowcount
        > 0
    )


def create_override(conn: Conn, schedule_id: str, fields: dict[str, Any]) -> Row:
    row = _one(
        conn.execute(
            "INSERT INTO schedule_overrides (schedule_id, kind, add_user_id, remove_user_id, "
            "start_at, end_at) VALUES (%(schedule_id)s, %(kind)s, %(add_user_id)s, "
            f"%(remove_user_id)s, %(start)s, %(end)s) RETURNING {OVERRIDE_COLUMNS}",
            {**fields, "schedule_id": schedule_id},
        )
    )
    assert row is not None
    return row


def get_override(conn: Conn, schedule_id: str, override_id: str) -> Row | None:
    return _one(
        conn.execute(
            f"SELECT {OVERRIDE_COLUMNS} FROM schedule_overrides WHERE id = %s AND schedule_id = %s",
            (override_id, schedule_id),
        )
    )


def list_overrides(conn: Conn, schedule_id: str, after: After = None, limit: int = 50) -> list[Row]:
    return keyset_page(
        conn,
        OVERRIDE_COLUMNS,
        "schedule_overrides",
        after,
        limit,
        "schedule_id = %(schedule_id)s",
        schedule_id=schedule_id,
    )


def update_override(
    conn: Conn, schedule_id: str, override_id: str, fields: dict[str, Any]
) -> Row | None:
    """Set the override's kind, users and span (all of them: the caller merged the change)."""
    return _one(
        conn.execute(
            "UPDATE schedule_overrides SET kind = %(kind)s, add_user_id = %(add_user_id)s, "
            "remove_user_id = %(remove_user_id)s, start_at = %(start)s, end_at = %(end)s "
            "WHERE id = %(_id)s AND schedule_id = %(_schedule_id)s "
            f"RETURNING {OVERRIDE_COLUMNS}",
            {**fields, "_id": override_id, "_schedule_id": schedule_id},
        )
    )


def lock_override(conn: Conn, schedule_id: str, override_id: str) -> Row | None:
    """The override, locked for update (a PATCH merges its change into what is stored)."""
    return _one(
        conn.execute(
            f"SELECT {OVERRIDE_COLUMNS} FROM schedule_overrides "
            "WHERE id = %s AND schedule_id = %s FOR UPDATE",
            (override_id, schedule_id),
        )
    )


def missing_users(conn: Conn, user_ids: Iterable[str]) -> set[str]:
    """Which of these user ids name no user."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return set()
    rows = conn.execute(
        "SELECT id::text AS id FROM users WHERE id = ANY(%s::uuid[])", (wanted,)
    ).fetchall()
    return set(wanted) - {row["id"] for row in rows}


def user_names(conn: Conn, user_ids: Iterable[str]) -> dict[str, str]:
    """The names of these users, by id (missing ids are left out)."""
    rows = conn.execute(
        "SELECT id::text AS id, name FROM users WHERE id = ANY(%s::uuid[])",
        (sorted(set(user_ids)),),
    ).fetchall()
    return {row["id"]: row["name"] for row in rows}


def delete_override(conn: Conn, schedule_id: str, override_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM schedule_overrides WHERE id = %s AND schedule_id = %s",
            (override_id, schedule_id),
        ).rowcount
        > 0
    )


def _temporary_shifts(conn: Conn, temporary_ids: Sequence[str]) -> dict[str, list[Row]]:
    rows = conn.execute(
        "SELECT temporary_schedule_id::text AS temporary_schedule_id, user_id::text AS user_id, "
        "start_at AS start, end_at AS end FROM temporary_schedule_shifts "
        "WHERE temporary_schedule_id = ANY(%s::uuid[]) ORDER BY start_at, user_id",
        (list(temporary_ids),),
    ).fetchall()
    found: dict[str, list[Row]] = {temporary_id: [] for temporary_id in temporary_ids}
    for row in rows:
        found[row["temporary_schedule_id"]].append(
            {"user_id": row["user_id"], "start": row["start"], "end": row["end"]}
        )
    return found


def _with_shifts(conn: Conn, rows: list[Row]) -> list[Row]:
    shifts = _temporary_shifts(conn, [row["id"] for row in rows])
    return [{**row, "shifts": shifts[row["id"]]} for row in rows]


def _insert_shifts(
    conn: Conn, temporary_id: str, start: datetime, end: datetime, shifts: Sequence[Row]
) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO temporary_schedule_shifts (temporary_schedule_id, span_start, span_end, "
            "user_id, start_at, end_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [(temporary_id, start, end, s["user_id"], s["start"], s["end"]) for s in shifts],
        )


def create_temporary_schedule(
    conn: Conn, schedule_id: str, start: datetime, end: datetime, shifts: Sequence[Row]
) -> Row:
    """A temporary schedule and its shifts (each {user_id, start, end}, within [start, end))."""
    row = _one(
        conn.execute(
            "INSERT INTO temporary_schedules (schedule_id, start_at, end_at) VALUES (%s, %s, %s) "
            f"RETURNING {TEMPORARY_COLUMNS}",
            (schedule_id, start, end),
        )
    )
    assert row is not None
    _insert_shifts(conn, row["id"], start, end, shifts)
    return _with_shifts(conn, [row])[0]


def lock_temporary_schedule(conn: Conn, schedule_id: str, temporary_id: str) -> Row | None:
    """The temporary schedule with its shifts, locked for update (a PATCH merges into it)."""
    row = _one(
        conn.execute(
            f"SELECT {TEMPORARY_COLUMNS} FROM temporary_schedules "
            "WHERE id = %s AND schedule_id = %s FOR UPDATE",
            (temporary_id, schedule_id),
        )
    )
    return _with_shifts(conn, [row])[0] if row else None


def update_temporary_schedule(
    conn: Conn,
    temporary_id: str,
    start: datetime,
    end: datetime,
    shifts: Sequence[Row] | None,
) -> Row:
    """Move the span to [start, end) and, if given, replace the shifts wholesale.

    Kept shifts follow the span through the ON UPDATE CASCADE key and its CHECK re-tests them;
    replaced ones are deleted first so that the old shifts never have to fit the new span.
    """
    if shifts is not None:
        conn.execute(
            "DELETE FROM temporary_schedule_shifts WHERE temporary_schedule_id = %s",
            (temporary_id,),
        )
    row = _one(
        conn.execute(
            "UPDATE temporary_schedules SET start_at = %s, end_at = %s WHERE id = %s "
            f"RETURNING {TEMPORARY_COLUMNS}",
            (start, end, temporary_id),
        )
    )
    assert row is not None
    if shifts is not None:
        _insert_shifts(conn, temporary_id, start, end, shifts)
    return _with_shifts(conn, [row])[0]


def get_temporary_schedule(conn: Conn, schedule_id: str, temporary_id: str) -> Row | None:
    row = _one(
        conn.execute(
            f"SELECT {TEMPORARY_COLUMNS} FROM temporary_schedules "
            "WHERE id = %s AND schedule_id = %s",
            (temporary_id, schedule_id),
        )
    )
    return _with_shifts(conn, [row])[0] if row else None


def list_temporary_schedules(
    conn: Conn, schedule_id: str, after: After = None, limit: int = 50
) -> list[Row]:
    rows = keyset_page(
        conn,
        TEMPORARY_COLUMNS,
        "temporary_schedules",
        after,
        limit,
        "schedule_id = %(schedule_id)s",
        schedule_id=schedule_id,
    )
    return _with_shifts(conn, [dict(row) for row in rows])


def delete_temporary_schedule(conn: Conn, schedule_id: str, temporary_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM temporary_schedules WHERE id = %s AND schedule_id = %s",
            (temporary_id, schedule_id),
        ).rowcount
        > 0
    )


# ---- model values for app.oncall.compute ---------------------------------------------------------


def load_schedule(conn: Conn, schedule_id: str) -> Schedule | None:
    """The schedule with all its rules, overrides and temporary schedules, as a model value."""
    row = get_schedule(conn, schedule_id)
    if row is None:
        return None
    rules = conn.execute(
        f"SELECT {RULE_COLUMNS} FROM schedule_rules WHERE schedule_id = %s ORDER BY created_at, id",
        (schedule_id,),
    ).fetchall()
    # Ties of start are applied in the order they were made (compute keeps the given order), so
    # the newest of two temporary schedules wins and a later override acts on an earlier one.
    overrides = conn.execute(
        f"SELECT {OVERRIDE_COLUMNS} FROM schedule_overrides WHERE schedule_id = %s "
        "ORDER BY start_at, created_seq",
        (schedule_id,),
    ).fetchall()
    temporaries = conn.execute(
        f"SELECT {TEMPORARY_COLUMNS} FROM temporary_schedules WHERE schedule_id = %s "
        "ORDER BY start_at, created_seq",
        (schedule_id,),
    ).fetchall()
    return Schedule(
        id=row["id"],
        time_zone=row["time_zone"],
        rules=tuple(_rule_value(r) for r in rules),
        overrides=tuple(_override_value(o) for o in overrides),
        temporary_schedules=tuple(
            _temporary_value(t) for t in _with_shifts(conn, [dict(t) for t in temporaries])
        ),
    )


def _rule_value(row: Row) -> Rule:
    start_time: time = row["start_time"]
    end_time: time = row["end_time"]
    return Rule(
        target_type=row["target_type"],
        target_id=row["target_id"],
        weekdays=frozenset(weekdays_list(row["weekdays"])),
        start_time=start_time,
        end_time=end_time,
    )


def _override_value(row: Row) -> Override:
    return Override(
        kind=row["kind"],
        start=row["start"],
        end=row["end"],
        add_user_id=row["add_user_id"],
        remove_user_id=row["remove_user_id"],
    )


def _temporary_value(row: Row) -> TemporarySchedule:
    shifts = tuple(Shift(s["start"], s["end"], s["user_id"]) for s in row["shifts"])
    return TemporarySchedule(start=row["start"], end=row["end"], shifts=shifts)


def rotation_ids_of(schedule: Schedule) -> set[str]:
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


# ---- calendar subscriptions ----------------------------------------------------------------------


def create_subscription(
    conn: Conn, *, user_id: str | None = None, schedule_id: str | None = None
) -> Row:
    """A calendar subscription for a user or a schedule; `token` is returned only here."""
    new = tokens.new_token(CALENDAR_PREFIX)
    row = _one(
        conn.execute(
            "INSERT INTO calendar_subscriptions (id, user_id, schedule_id, secret_hash) "
            f"VALUES (%s, %s, %s, %s) RETURNING {SUBSCRIPTION_COLUMNS}",
            (new.id, user_id, schedule_id, new.secret_hash),
        )
    )
    assert row is not None
    return {**row, "token": new.token}


def revoke_subscription(conn: Conn, subscription_id: str, owner_column: str, owner_id: str) -> bool:
    """Revoke a subscription of this owner (`user_id` or `schedule_id`); False if none."""
    assert owner_column in ("user_id", "schedule_id")
    return (
        conn.execute(
            "UPDATE calendar_subscriptions SET revoked_at = coalesce(revoked_at, now()) "
            f"WHERE id = %s AND {owner_column} = %s",
            (subscription_id, owner_id),
        ).rowcount
        > 0
    )


def list_subscriptions(
    conn: Conn, owner_column: str, owner_id: str, after: After = None, limit: int = 50
) -> list[Row]:
    """This owner's (`user_id` or `schedule_id`) subscriptions, revoked ones too; no secrets."""
    assert owner_column in ("user_id", "schedule_id")
    return keyset_page(
        conn,
        SUBSCRIPTION_COLUMNS,
        "calendar_subscriptions",
        after,
        limit,
        f"{owner_column} = %(owner_id)s",
        owner_id=owner_id,
    )


def verify_subscription(conn: Conn, token: str) -> Row | None:
    """The live subscription this token proves, else None."""
    parsed = tokens.parse_token(CALENDAR_PREFIX, token)
    if parsed is None:
        return None
    subscription_id, secret = parsed
    row = _one(
        conn.execute(
            f"SELECT {SUBSCRIPTION_COLUMNS}, secret_hash FROM calendar_subscriptions "
            "WHERE id = %s AND revoked_at IS NULL",
            (subscription_id,),
        )
    )
    if row is None or not tokens.secret_matches(row.pop("secret_hash"), secret):
        return None
    return row
