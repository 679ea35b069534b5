"""Opaque cursors for keyset pagination: `{"items": [...], "next_cursor": str | null}`.

A cursor is base64url of a small JSON array naming the last item of the page: `[created_at, id]`
for resources with UUID ids (ordered oldest first), `[id]` for alerts (newest first). Clients
must treat it as opaque; a cursor that does not decode is a 400 naming the `cursor` parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from app.platform.errors import ApiError

MAX_BIGINT = 2**63 - 1
T = TypeVar("T")


class InvalidCursor(ApiError):
    status = 400
    code = "invalid_cursor"

    def __init__(self) -> None:
        super().__init__(
            "cursor: not a cursor this API issued; pass next_cursor from the previous page",
            {"field": "cursor"},
        )


def _encode(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidCursor() from None
    if not isinstance(values, list):
        raise InvalidCursor()
    return values


def time_cursor(row: dict[str, Any]) -> str:
    """The cursor after `row` of a list ordered by (created_at, id)."""
    return _encode([row["created_at"].isoformat(), str(row["id"])])


def decode_time_cursor(cursor: str | None) -> tuple[str, str] | None:
    """(created_at, id) to continue after, or None for the first page."""
    if cursor is None:
        return None
    values = _decode(cursor)
    if len(values) != 2 or not all(isinstance(v, str) for v in values):
        raise InvalidCursor()
    try:
        created_at = datetime.fromisoformat(values[0])
        key_id = uuid.UUID(values[1])
    except ValueError:
        raise InvalidCursor() from None
    if created_at.tzinfo is None:
        raise InvalidCursor()
    return created_at.isoformat(), str(key_id)


def id_cursor(row: dict[str, Any]) -> str:
    """The cursor after `row` of a list ordered by bigint id, newest first."""
    return _encode([int(row["id"])])


def decode_id_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    values = _decode(cursor)
    if len(values) != 1 or type(values[0]) is not int or not 0 < values[0] <= MAX_BIGINT:
        raise InvalidCursor()
    return int(values[0])


def page(
    rows: Sequence[dict[str, Any]],
    limit: int,
    cursor_of: Callable[[dict[str, Any]], str],
    build: Callable[[dict[str, Any]], T],
) -> tuple[list[T], str | None]:
    """The first `limit` rows as items, and the cursor after them if more rows were fetched."""
    items = [build(row) for row in rows[:limit]]
    next_cursor = cursor_of(rows[limit - 1]) if len(rows) > limit else None
    return items, next_cursor
