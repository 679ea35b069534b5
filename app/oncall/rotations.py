"""The `rotations` table and its `rotation_participants`: a rotation's row, its ordered users,
and the model value app.oncall.compute reads (app.oncall.model.Rotation)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from app.oncall.model import Rotation
from app.oncall.rows import After, Conn, Row, one, update_by_id
from app.platform.sql_fragments import keyset_page

ROTATION_COLUMNS = (
    "id::text AS id, name, description, type, shift_length, start_at AS start, start_index, "
    "time_zone, team_id::text AS team_id, created_at, updated_at"
)


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
    row = one(
        conn.execute(
            "INSERT INTO rotations (name, description, type, shift_length, start_at, start_index, "
            "time_zone, team_id) VALUES (%(name)s, %(description)s, %(type)s, %(shift_length)s, "
            f"%(start)s, %(start_index)s, %(time_zone)s, %(team_id)s) RETURNING {ROTATION_COLUMNS}",
            {"team_id": None, **fields},
        )
    )
    assert row is not None
    _set_participants(conn, row["id"], participants)
    return {**row, "participants": list(participants)}


def get_rotation(conn: Conn, rotation_id: str) -> Row | None:
    row = one(
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
    row = update_by_id(conn, "rotations", ROTATION_COLUMNS, rotation_id, columns)
    if row is None:
        return None
    if participants is not None:
        _set_participants(conn, rotation_id, participants)
    return _with_participants(conn, [row])[0]


def delete_rotation(conn: Conn, rotation_id: str) -> bool:
    return conn.execute("DELETE FROM rotations WHERE id = %s", (rotation_id,)).rowcount > 0


def lock_rotation(conn: Conn, rotation_id: str) -> Row | None:
    """The rotation, locked for update (re-basing reads then writes it)."""
    row = one(
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


def schedules_using(conn: Conn, rotation_id: str, limit: int = 100) -> list[Row]:
    """The schedules (id, name) whose rules put this rotation on call, by name."""
    rows = conn.execute(
        "SELECT DISTINCT s.id::text AS id, s.name FROM schedules s "
        "JOIN schedule_rules r ON r.schedule_id = s.id WHERE r.rotation_id = %s "
        "ORDER BY s.name, id LIMIT %s",
        (rotation_id, limit),
    ).fetchall()
    return [dict(row) for row in rows]
