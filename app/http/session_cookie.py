"""The sign-in session cookie and the CSRF check of requests that carry it.

The cookie `klaxon_session` holds only the session's random token (app.directory.sessions keeps
its digest): HttpOnly, SameSite=Lax, Path=/, Secure when KLAXON_PUBLIC_URL is https, and kept by
the browser as long as the session's absolute expiry; Postgres decides at every request whether
the session still lives.

A request that authenticates with this cookie and changes state (POST, PUT, PATCH, DELETE, and
the few GETs that act, such as rq-dashboard's requeue link) must carry the session's CSRF token
in the `X-CSRF-Token` header or a `csrf_token` form field; requests with an API key need none,
since another site cannot make a browser send one.
"""

from __future__ import annotations

from flask import current_app, g, request
from werkzeug.wrappers import Response

from app.directory import sessions
from app.platform.errors import Forbidden
from config.settings import Settings

COOKIE = "klaxon_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfFailed(Forbidden):
    code = "csrf_failed"


def _settings() -> Settings:
    settings: Settings = current_app.extensions["klaxon"].settings
    return settings


def cookie_token() -> str | None:
    token = request.cookies.get(COOKIE, "")
    return token if 0 < len(token) <= 128 else None


def current_session() -> sessions.LiveSession | None:
    """The live session this request's cookie names (looked up once per request), or None."""
    if "klaxon_session" in g:
        found: sessions.LiveSession | None = g.klaxon_session
        return found
    token = cookie_token()
    found = None
    if token is not None:
        idle = _settings().sessions.idle
        with current_app.extensions["klaxon"].db.transaction() as conn:
            found = sessions.live_session(conn, token, idle)
    g.klaxon_session = found
    return found


def require_csrf(session: sessions.LiveSession, changes_state: bool) -> None:
    """Refuse (403 csrf_failed) a state change on this session without its CSRF token."""
    if not changes_state:
        return
    presented = request.headers.get(CSRF_HEADER) or _form_token()
    if not presented or not sessions.csrf_matches(_settings().secret_key, session.id, presented):
        raise CsrfFailed(
            f"this request changes state with a session cookie: send the session's CSRF token "
            f"in the {CSRF_HEADER} header (GET /api/v1/me returns it)"
        )


def changes_state() -> bool:
    return request.method not in SAFE_METHODS


def _form_token() -> str:
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return ""
    return request.form.get(CSRF_FIELD, "")


def csrf_for(session_id: str) -> str:
    return sessions.csrf_token(_settings().secret_key, session_id)


def set_cookie(response: Response, token: str) -> None:
    settings = _settings()
    response.set_cookie(
        COOKIE,
        token,
        max_age=settings.sessions.max,
        path="/",
        secure=settings.public_url.startswith("https://"),
        httponly=True,
        samesite="Lax",
    )


def clear_cookie(response: Response) -> None:
    settings = _settings()
    response.delete_cookie(
        COOKIE,
        path="/",
        secure=settings.public_url.startswith("https://"),
        httponly=True,
        samesite="Lax",
    )
