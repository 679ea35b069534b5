"""The 404 a route under /users/<user_id> answers first when that user does not exist. Kept out
of the resource modules so that importing it registers no route (their import order is the
OpenAPI document's order)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from app.directory import users
from app.platform.errors import NotFound


def require_user(conn: psycopg.Connection[Any], user_id: UUID) -> None:
    """A 404 unless the user exists."""
    if not users.user_exists(conn, str(user_id)):
        raise NotFound(f"no user with id {user_id}")
