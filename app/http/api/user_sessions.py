"""/api/v1/users/<id>/sessions: an admin sees a user's sessions and signs them out everywhere."""

from __future__ import annotations

from uuid import UUID

from app.directory import sessions
from app.http.api import pagination
from app.http.api.parents import require_user
from app.http.api.routing import endpoint, transaction
from app.http.api.schemas.base import PageQuery
from app.http.api.schemas.sessions import Session, SessionPage, SessionsRevoked
from app.http.permissions import ADMINS

TAG = "users"
MANY = "/users/<uuid:user_id>/sessions"


@endpoint(MANY, "GET", "admin", TAG, HTTP_200=SessionPage, allow=ADMINS)
def list_user_sessions(user_id: UUID, query: PageQuery) -> SessionPage:
    """A user's live sessions, oldest first (admins)."""
    after = pagination.decode_time_cursor(query.cursor)
    with transaction() as conn:
        require_user(conn, user_id)
        rows = sessions.list_sessions(conn, str(user_id), after, query.limit + 1)
    items, next_cursor = pagination.page(
        rows, query.limit, pagination.time_cursor, Session.model_validate
    )
    return SessionPage(items=items, next_cursor=next_cursor)


@endpoint(MANY + "/revoke", "POST", "admin", TAG, HTTP_200=SessionsRevoked, allow=ADMINS)
def revoke_user_sessions(user_id: UUID) -> SessionsRevoked:
    """Sign a user out everywhere (admins): every live session of theirs ends at once."""
    with transaction() as conn:
        require_user(conn, user_id)
        revoked = sessions.revoke_user_sessions(conn, str(user_id))
    return SessionsRevoked(revoked=revoked)
