"""/api/v1/me: who is asking (the signed-in user, or the API key's identity), their sessions,
and their password.

API keys belong to nobody yet (README, Signing in): for a key, /me describes the key, its
session list is empty and it has no password to change.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from app.directory import passwords, sessions, signin, users
from app.http import session_cookie, signin_limits
from app.http.api import pagination
from app.http.api.routing import endpoint, transaction
from app.http.api.schemas import Input, Output, OutTime, PageQuery, Scope, User
from app.http.auth import Identity, identity, session_scope
from app.platform.errors import Forbidden, NotFound, invalid

TAG = "me"

Password = Annotated[str, StringConstraints(min_length=1, max_length=passwords.MAX_LENGTH)]


class Session(Output):
    """A sign-in session (a browser or a script holding its cookie)."""

    id: str
    created_at: OutTime
    last_seen_at: OutTime = Field(description="to within a minute")
    idle_expires_at: OutTime = Field(description="ends unless used before then")
    expires_at: OutTime = Field(description="ends then however busy (KLAXON_SESSION_MAX)")
    user_agent: str
    address: str
    revoked_at: OutTime | None


class SessionPage(Output):
    items: list[Session]
    next_cursor: str | None


class KeyIdentity(Output):
    id: str
    name: str
    scope: Scope


class Me(Output):
    """The identity of this request and what it may do."""

    kind: Literal["user", "api_key"]
    scope: Scope = Field(description="an admin user acts with admin, other users with write")
    user: User | None = Field(description="the signed-in user (kind user)")
    api_key: KeyIdentity | None = Field(description="the key (kind api_key)")
    session: Session | None = Field(description="this request's session (kind user)")
    csrf_token: str | None = Field(
        description="send it as X-CSRF-Token with every state-changing request made with the "
        "session cookie (kind user)"
    )


class PasswordChange(Input):
    current_password: Password = Field(examples=["correct horse battery staple"])
    new_password: Annotated[
        str,
        StringConstraints(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH),
    ] = Field(examples=["a new passphrase, 8 characters or more"])


def describe(who: Identity) -> Me:
    """`who` as /me answers it."""
    if who.session is None:
        key = who.api_key
        assert key is not None
        return Me.model_validate(
            {"kind": "api_key", "scope": who.scope, "user": None, "session": None,
             "csrf_token": None, "api_key": {"id": key.id, "name": key.name, "scope": key.scope}}
        )  # fmt: skip
    with transaction() as conn:
        user = users.get_user(conn, who.session.user_id)
        row = sessions.get_session(conn, who.session.id)
    if user is None or row is None:
        raise NotFound("this session's user no longer exists")
    return signed_in_as(user, row)


def signed_in_as(user: dict[str, Any], session: dict[str, Any]) -> Me:
    """/me of a session: its user, the session and its CSRF token (a sign-in answers this too)."""
    return Me.model_validate(
        {"kind": "user", "scope": session_scope(user["role"]), "api_key": None,
         "user": User.model_validate(user), "session": Session.model_validate(session),
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


@endpoint("/me/sessions/<uuid:session_id>", "DELETE", "write", TAG, HTTP_204=None)
def revoke_my_session(session_id: UUID) -> tuple[str, int]:
    """Sign one of your sessions out (this one too, if named); its cookie stops working at once."""
    who = identity().session
    with transaction() as conn:
        if who is None or not sessions.revoke_session(conn, who.user_id, str(session_id)):
            raise NotFound(f"you have no live session with id {session_id}")
    return "", 204


@endpoint("/me/password", "POST", "write", TAG, HTTP_204=None)
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
