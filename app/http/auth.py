"""Authentication for /api/v1 and the admin pages: an API key (`Authorization: Bearer klx_…`)
or a sign-in session cookie (app.http.session_cookie).

A key acts with its scope. A session acts as its user: an admin user with scope admin, any other
user with write (permissions per team come later: README, Signing in). A request with both
is judged by its key alone. Errors never echo the presented key, and never say whether a key id
exists.
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
    """Who a request acts as: an API key, or a signed-in user's session."""

    scope: str
    api_key: api_keys.ApiKey | None = None
    session: sessions.LiveSession | None = None


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
    if not api_keys.scope_allows(api_key.scope, scope):
        raise Forbidden(f"this API key has scope {api_key.scope!r}; {scope!r} is required")
    g.api_key = api_key
    g.actor = Actor("api_key", api_key.id)
    g.identity = found = Identity(api_key.scope, api_key=api_key)
    return found


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
    if state and granted != "admin":
        _own_user_only(session)
    g.actor = Actor("user", session.user_id)
    g.identity = found = Identity(granted, session=session)
    return found


def _own_user_only(session: sessions.LiveSession) -> None:
    """A user who is not an admin changes only their own profile, contact methods and
    notification rules (every route under /users/<user_id>): nobody re-points someone else's
    pages. API keys belong to nobody yet and keep their scope (README, Signing in)."""
    target = (request.view_args or {}).get("user_id")
    if target is not None and str(target) != session.user_id:
        raise Forbidden(
            "only an admin changes another user's profile, contact methods or notification rules"
        )


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
