"""/api/v1/me: who is asking (the signed-in user, or the API key's identity), their sessions,
and their password.

For a key, /me describes the key (and a personal key's user); its session list is empty and it
has no password to change.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.directory import passwords, sessions, signin, teams, users
from app.http import session_cookie, signin_limits
from app.http.api import pagination
from app.http.api.routing import endpoint, transaction
from app.http.api.schemas.base import PageQuery
from app.http.api.schemas.me import Me, PasswordChange
from app.http.api.schemas.sessions import Session, SessionPage
from app.http.auth import Identity, identity, session_scope
from app.http.permissions import EVERYONE
from app.platform.errors import Forbidden, NotFound, invalid

TAG = "me"


def describe(who: Identity) -> Me:
    """`who` as /me answers it."""
    if who.session is None:
        key = who.api_key
        assert key is not None
        return Me.model_validate(
            {"kind": "api_key", "scope": who.scope, "user": _user(who.user_id), "session": None,
             "csrf_token": None,
             "api_key": {"id": key.id, "name": key.name, "scope": key.scope,
                         "owner_user_id": key.owner_user_id, "owner_team_id": key.owner_team_id}}
        )  # fmt: skip
    with transaction() as conn:
        user = users.get_user(conn, who.session.user_id)
        row = sessions.get_session(conn, who.session.id)
    if user is None or row is None:
        raise NotFound("this session's user no longer exists")
    return signed_in_as(user, row)


def _user(user_id: str | None) -> dict[str, Any] | None:
    """A personal key's user with their teams (None for other keys)."""
    if user_id is None:
        return None
    with transaction() as conn:
        user = users.get_user(conn, user_id)
        return {**user, "teams": teams.user_teams(conn, user_id)} if user else None


def signed_in_as(user: dict[str, Any], session: dict[str, Any]) -> Me:
    """/me of a session: its user (with their teams), the session and its CSRF token (a sign-in
    answers this too)."""
    with transaction() as conn:
        memberships = teams.user_teams(conn, user["id"])
    return Me.model_validate(
        {"kind": "user", "scope": session_scope(user["role"]), "api_key": None,
         "user": {**user, "teams": memberships}, "session": Session.model_validate(session),
         "csrf_token": session_cookie.csrf_for(session["id"])}
    )  # fmt: skip


@endpoint("/me", "GET", "read", TAG, HTTP_200=Me)
def get_me() -> Me:
    """Who this request acts as: the signed-in user (with the session's CSRF token) or the key."""
    return describe(identity())


@endpoint("/me/sessions", "GET", "read", TAG, HTTP_200=SessionPage)
def list_my_sessions(query: PageQuery) -> SessionPage:
    """The signed-in user's live sessions, oldest first (an API key has none)."""
    who = identity().session
    if who is None:
        return SessionPage(items=[], next_cursor=None)
    after = pagination.decode_time_cursor(query.cursor)
    with transaction() as conn:
        rows = sessions.list_sessions(conn, who.user_id, after, query.limit + 1)
    items, next_cursor = pagination.page(
        rows, query.limit, pagination.time_cursor, Session.model_validate
    )
    return SessionPage(items=items, next_cursor=next_cursor)


@endpoint("/me/sessions/<uuid:session_id>", "DELETE", "write", TAG, HTTP_204=None, allow=EVERYONE)
def revoke_my_session(session_id: UUID) -> tuple[str, int]:
    """Sign one of your sessions out (this one too, if named); its cookie stops working at once."""
    who = identity().session
    with transaction() as conn:
        if who is None or not sessions.revoke_session(conn, who.user_id, str(session_id)):
            raise NotFound(f"you have no live session with id {session_id}")
    return "", 204


@endpoint("/me/password", "POST", "write", TAG, HTTP_204=None, allow=EVERYONE)
def change_my_password(json: PasswordChange) -> tuple[str, int]:
    """Change your password (the current one is required); your other sessions end."""
    who = identity().session
    if who is None:
        raise Forbidden("an API key has no password: sign in as the user to change theirs")
    signin_limits.count_attempt(who.email)  # guessing here is guessing at sign-in
    try:
        with transaction() as conn:
            changed = signin.change_password(
                conn, who.user_id, json.current_password, json.new_password, keep_session=who.id
            )
    except passwords.WeakPassword as exc:
        raise invalid("new_password", str(exc)) from None
    if not changed:
        raise invalid("current_password", "is wrong")
    return "", 204
