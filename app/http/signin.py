"""Signing in and out: `POST /auth/login` (email and password, as JSON or a form) and
`POST /auth/logout` (README, Signing in).

A sign-in answers what `GET /api/v1/me` would (the user, the session and its CSRF token) and
sets the session cookie (app.http.session_cookie). A wrong email and a wrong password get the
same 401 after the same work; attempts are limited per client address and per account
(app.http.signin_limits). Another site cannot sign a browser in: a request the browser marks
cross-site is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from flask import Blueprint, Response, current_app, jsonify, request

from app.directory import sessions, signin
from app.http import session_cookie, signin_limits
from app.http.api.me import signed_in_as
from app.platform import json_input, ratelimit
from app.platform.errors import ApiError, Forbidden, MalformedBody, Unauthorized, invalid
from config.settings import Settings

log = structlog.get_logger(__name__)

signin_blueprint = Blueprint("auth", __name__, url_prefix="/auth")
# Sec-Fetch-Site values a browser sends for requests another site started.
CROSS_SITE = frozenset({"cross-site", "same-site"})
MAX_FIELD = 1024  # characters of an email or password read at all


# Sign-in refusals a page explains in words; any other (a body too large) is the JSON envelope.
PAGE_REFUSALS = frozenset({401, 403, 422, 429})


def refusal_text(refused: ApiError) -> str:
    """What a sign-in page says for one of PAGE_REFUSALS (/login and /admin/login alike)."""
    if refused.status == 422:
        return "Enter an email and a password."
    if refused.status == 401:
        return "Wrong email or password."
    if refused.status == 429:
        return f"Too many sign-in attempts; try again in {refused.headers['Retry-After']} s."
    return refused.message


def request_fields() -> Mapping[str, Any]:
    """The request's JSON object or its form (the /auth pages take either); 400 when the JSON
    is malformed or not an object."""
    if not request.is_json:
        return request.form
    try:
        body = json_input.loads(request.get_data(cache=True) or b"null")
    except ValueError:
        raise MalformedBody("the body is not well-formed JSON") from None
    if not isinstance(body, dict):
        raise MalformedBody("the body must be a JSON object")
    return body


def credentials() -> tuple[str, str]:
    """(email, password) from a JSON object or a form; a 4xx when either is missing."""
    body = request_fields()
    found = {}
    for field in ("email", "password"):
        value = body.get(field)
        if not isinstance(value, str) or not value.strip():
            raise invalid(field, "is required")
        found[field] = value[:MAX_FIELD]
    return found["email"].strip(), found["password"]


def refuse_cross_site() -> None:
    if request.headers.get("Sec-Fetch-Site", "").lower() in CROSS_SITE:
        raise Forbidden("sign in from Klaxon's own pages, not from another site")


def sign_in(email: str, password: str, admin_only: bool = False) -> signin.SignedIn:
    """A new session for these credentials (limited per address and account); 401 otherwise,
    and 403 for a user who is not an admin when `admin_only`."""
    signin_limits.count_attempt(email)
    settings: Settings = current_app.extensions["klaxon"].settings
    with current_app.extensions["klaxon"].db.transaction() as conn:
        user = signin.check_credentials(conn, email, password)
        if user is None:
            log.info("sign_in_refused")
            raise Unauthorized("wrong email or password")
        if admin_only and user["role"] != "admin":
            raise Forbidden("only admin users may sign in here")
        done = signin.start_session(
            conn, user, settings.sessions,
            user_agent=request.headers.get("User-Agent", ""),
            address=ratelimit.client_address(),
        )  # fmt: skip
    log.info("signed_in", user_id=user["id"], session_id=done.session["id"])
    return done


@signin_blueprint.post("/login")
def login() -> Response:
    """Sign in; answers the /api/v1/me document and sets the session cookie."""
    refuse_cross_site()
    done = sign_in(*credentials())
    me = signed_in_as(done.user, done.session)
    response = jsonify(me.model_dump(mode="json"))
    response.headers["Cache-Control"] = "no-store"
    session_cookie.set_cookie(response, done.token)
    return response


@signin_blueprint.post("/logout")
def logout() -> Response:
    """Sign out: the session is revoked (its cookie no longer works anywhere) and the cookie
    cleared. Needs the session's CSRF token; without a live session it just clears the cookie."""
    ended = end_session()
    response = Response(status=204)
    session_cookie.clear_cookie(response)
    if ended:
        log.info("signed_out", session_id=ended)
    return response


def end_session() -> str | None:
    """Revoke this request's live session (CSRF-checked); its id, or None if there was none."""
    live = session_cookie.current_session()
    if live is None:
        return None
    session_cookie.require_csrf(live, changes_state=True)
    with current_app.extensions["klaxon"].db.transaction() as conn:
        sessions.revoke_session(conn, live.user_id, live.id)
    return live.id
