"""Authentication for /api/v1 and the admin pages: an API key (`Authorization: Bearer klx_…`)
or a sign-in session cookie (app.http.session_cookie).

A session acts as its user: an admin user with scope admin, any other user with write. A
personal key acts as its user with the smaller of its scope and the user's; a team key acts for
its team like one of its managers (at most write); a key with no owner is a service key and
acts like an admin with its scope (every key made before teams is one, so nothing in use broke).
Which team's things an identity may change is app.http.permissions' business (README, Teams
and permissions). A request with both a key and a cookie is judged by its key alone. Errors
never echo the presented key, and never say whether a key id exists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, g, request

from app.alerts.store import Actor
from app.directory import api_keys, sessions
from app.http import session_cookie
from app.platform import ratelimit
from app.platform.errors import ApiError, Forbidden, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Identity:
    """Who a request acts as: an API key, or a signed-in user's session; the user it acts as
    (a session's, a personal key's), the team a team key acts for, and whether it acts as an
    admin (an admin user, or a service key) — all within `scope`."""

    scope: str
    api_key: api_keys.ApiKey | None = None
    session: sessions.LiveSession | None = None
    user_id: str | None = None
    team_id: str | None = None
    admin: bool = False


def key_identity(key: api_keys.ApiKey) -> Identity:
    """What a key may do: its owner's permissions, capped by its scope (never raised by it)."""
    if key.owner_user_id is not None:
        role = key.owner_role or "user"
        scope = api_keys.scope_cap(key.scope, session_scope(role))
        return Identity(scope, api_key=key, user_id=key.owner_user_id, admin=role == "admin")
    if key.owner_team_id is not None:
        scope = api_keys.scope_cap(key.scope, "write")  # a manager's reach, at most
        return Identity(scope, api_key=key, team_id=key.owner_team_id)
    return Identity(key.scope, api_key=key, admin=True)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def session_scope(role: str) -> str:
    return "admin" if role == "admin" else "write"


def authenticate(scope: str, changes_state: bool | None = None) -> Identity:
    """The API key or session of this request, allowed `scope`; raises 401/403 otherwise.
    A session's state-changing request (`changes_state`, default: by its method) must carry
    its CSRF token (403 csrf_failed)."""
    if bearer_token() is None and session_cookie.cookie_token() is not None:
        return _authenticate_session(scope, changes_state)
    api_key = _authenticate_key()
    found = key_identity(api_key)
    if not api_keys.scope_allows(found.scope, scope):
        raise Forbidden(_weaker_key(api_key, found.scope, scope))
    g.api_key = api_key
    # A personal key's actions are its user's (the alert log names who acknowledged).
    g.actor = Actor("user", found.user_id) if found.user_id else Actor("api_key", api_key.id)
    g.identity = found
    return found


def _weaker_key(api_key: api_keys.ApiKey, granted: str, needed: str) -> str:
    if granted == api_key.scope:
        return f"this API key has scope {granted!r}; {needed!r} is required"
    return (
        f"this API key has scope {api_key.scope!r} but its owner acts with at most "
        f"{granted!r}; {needed!r} is required"
    )


def _authenticate_key() -> api_keys.ApiKey:
    token = bearer_token()
    if token is None:
        raise _refused(
            "an API key or a session is required: send `Authorization: Bearer <key>`, "
            "or sign in (POST /auth/login)"
        )
    with current_app.extensions["klaxon"].db.transaction() as conn:
        api_key = api_keys.verify_api_key(conn, token)
    if api_key is None:
        raise _refused("the API key is invalid or revoked")
    return api_key


def _authenticate_session(scope: str, changes_state: bool | None) -> Identity:
    session = session_cookie.current_session()
    if session is None:
        raise Unauthorized("the session has ended (expired or signed out); sign in again")
    granted = session_scope(session.role)
    if not api_keys.scope_allows(granted, scope):
        raise Forbidden(
            f"a signed-in {session.role} acts with scope {granted!r}; {scope!r} is required"
        )
    state = session_cookie.changes_state() if changes_state is None else changes_state
    session_cookie.require_csrf(session, state)
    g.actor = Actor("user", session.user_id)
    g.identity = found = Identity(
        granted, session=session, user_id=session.user_id, admin=session.role == "admin"
    )
    return found


def require_admin_for(what: str | None) -> None:
    """Setting a user's role (making an admin gives every permission) or disabling a user
    takes admin scope, whatever the route's own scope; `what` names the change, None: none."""
    if what is not None and not api_keys.scope_allows(identity().scope, "admin"):
        raise Forbidden(f"only an admin (or an admin API key) {what}")


def _refused(message: str) -> ApiError:
    """The 401 to raise, or a 429 once this client has failed too often (KLAXON_LIMIT_FAILED_AUTH).
    Only failures are counted: a valid key is never slowed or refused."""
    return ratelimit.failed_credentials("api") or Unauthorized(message)


def identity() -> Identity:
    """The identity `authenticate` found for this request."""
    found: Identity = g.identity
    return found


def require_scope(scope: str) -> Callable[[F], F]:
    """Decorator: the view runs only for an API key or session with at least `scope`."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            authenticate(scope)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
