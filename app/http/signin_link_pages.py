"""The pages a sign-in link opens, and asking for a password reset (README, Signing in).

- `GET /auth/invitation/<token>`, `GET /auth/password-reset/<token>`: a form to choose a
  password. Never changes anything (mail scanners fetch links).
- `POST` to the same URL (a form field or a JSON member `password`): uses the link once, sets
  the password, ends every session of the user and signs them in afresh (the session cookie;
  a form goes on, 303, to the alert list; JSON callers get the /api/v1/me document).
- `GET /auth/password-reset`: a form asking for an email; `POST /auth/password-reset` (form or
  JSON `email`): always the same answer (202 for JSON), whether or not the account exists;
  limited per client address and per account (app.http.signin_limits).

A token that is malformed, tampered with or unknown is a 404; one that names a link that was
used, expired, replaced or revoked (or whose user is disabled) a 410. Neither says whose link it
was. Refused tokens count towards KLAXON_LIMIT_FAILED_AUTH (surface `signin-link`). What
authorises a POST is the one-time token in its URL, so it needs no separate CSRF token, but a
request the browser marks as started by another site is refused.
"""

from __future__ import annotations

from typing import Any

import structlog
from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from app.directory import passwords, signin, signin_links
from app.http import link_mail, session_cookie, signin_limits
from app.http.api.me import signed_in_as
from app.http.page_headers import PAGE_HEADERS
from app.http.runtime import WebRuntime
from app.http.signin import CROSS_SITE, MAX_FIELD, request_fields
from app.platform import ratelimit
from app.platform.errors import ApiError, Forbidden, invalid

log = structlog.get_logger(__name__)

HOME = "/alerts"  # where a person lands once the link signed them in
link_pages_blueprint = Blueprint("signin_links", __name__, url_prefix="/auth")

TITLES = {"invitation": "Welcome to Klaxon", "password_reset": "Choose a new password"}
BUTTONS = {"invitation": "Set password and sign in", "password_reset": "Set password and sign in"}
MESSAGE = "actions/message.html"
# What a refused link's page says (its JSON answer is the error envelope).
REFUSED_PAGES = {
    404: ("This link is not valid", "Check that the whole link was copied."),
    410: (
        "This link no longer works",
        "It has expired, was already used, or a newer link replaced it. Ask an admin to invite "
        "you again, or ask for another password reset.",
    ),
}
RESET_ANSWER = (
    "If an account with that email exists and may sign in, a link to choose a new password is "
    "on its way. It works once, for a limited time."
)


def _runtime() -> WebRuntime:
    runtime: WebRuntime = current_app.extensions["klaxon"]
    return runtime


def _wants_json() -> bool:
    return request.is_json


def _page(
    status: int, title: str, message: str = "", template: str = MESSAGE, **extra: Any
) -> Response:
    """One of Klaxon's own pages (the action links' look and security headers)."""
    html = render_template(
        template, title=title, heading=title, message=message, alert=None, **extra
    )
    response = Response(html, status=status, content_type="text/html; charset=utf-8")
    response.headers.update(PAGE_HEADERS)
    return response


# ---- the link pages ---------------------------------------------------------------------------


def _find(token: str, purpose: str) -> dict[str, Any] | ApiError:
    """The live link, or the error to answer (404 unknown/tampered, 410 dead, 429 past the
    limit of refused tokens)."""
    runtime = _runtime()
    with runtime.db.transaction() as conn:
        found = signin_links.find(conn, runtime.settings.secret_key, token, purpose)
    if found.link is not None:
        return found.link
    log.info("signin_link_refused", purpose=purpose, reason="dead" if found.dead else "invalid")
    limited = ratelimit.failed_credentials("signin-link")
    if limited is not None:
        return limited
    if found.dead:
        return LinkGone()
    return LinkNotFound()


class LinkNotFound(ApiError):
    status = 404
    code = "link_not_valid"

    def __init__(self) -> None:
        super().__init__("this link is not valid: check that the whole link was copied")


class LinkGone(ApiError):
    status = 410
    code = "link_gone"

    def __init__(self) -> None:
        super().__init__(
            "this link has expired or was already used; ask for a new one (an admin re-invites "
            "you, or request another password reset)"
        )


def _refused_page(error: ApiError) -> Response:
    """A refusal as a page; JSON callers get the error envelope (the error is raised)."""
    if _wants_json():
        raise error
    title, message = REFUSED_PAGES.get(error.status, ("Too many attempts", error.message))
    page = _page(error.status, title, message)
    page.headers.update(error.headers)
    return page


def _form_page(purpose: str, message: str = "", status: int = 200) -> Response:
    return _page(
        status, TITLES[purpose], message, "signin/set_password.html",
        button=BUTTONS[purpose], min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH,
    )  # fmt: skip


def _show(token: str, purpose: str) -> Response:
    link = _find(token, purpose)
    if isinstance(link, ApiError):
        return _refused_page(link)
    greeting = f"Hello {link['name']}: choose a password to sign in as {link['email']}."
    return _form_page(purpose, greeting)


def _use(token: str, purpose: str) -> Response:
    """Set the password with a live link; sign in."""
    _refuse_cross_site()
    password = _field("password")
    link = _find(token, purpose)
    if isinstance(link, ApiError):
        return _refused_page(link)
    runtime = _runtime()
    try:
        with runtime.db.transaction() as conn:
            done = signin.set_password_with_link(
                conn, link, password, runtime.settings.sessions,
                user_agent=request.headers.get("User-Agent", ""),
                address=ratelimit.client_address(),
            )  # fmt: skip
    except passwords.WeakPassword as exc:
        if _wants_json():
            raise invalid("password", str(exc)) from None
        return _form_page(purpose, f"The password {exc}.", 422)
    if done is None:
        return _refused_page(LinkGone())
    log.info("signin_link_used", purpose=purpose, link_id=link["id"], user_id=link["user_id"],
             session_id=done.session["id"])  # fmt: skip
    if _wants_json():
        response = jsonify(signed_in_as(done.user, done.session).model_dump(mode="json"))
        response.headers["Cache-Control"] = "no-store"
    else:
        response = redirect(HOME, code=303)  # type: ignore[assignment]  # on to the alert list
    session_cookie.set_cookie(response, done.token)
    return response


@link_pages_blueprint.get("/invitation/<token>")
def invitation_form(token: str) -> Response:
    """The invitation's page: choose a password. Changes nothing."""
    return _show(token, "invitation")


@link_pages_blueprint.post("/invitation/<token>")
def accept_invitation(token: str) -> Response:
    """Accept an invitation: set the password (once) and sign in."""
    return _use(token, "invitation")


@link_pages_blueprint.get("/password-reset/<token>")
def reset_form(token: str) -> Response:
    """A reset link's page: choose a new password. Changes nothing."""
    return _show(token, "password_reset")


@link_pages_blueprint.post("/password-reset/<token>")
def reset_password(token: str) -> Response:
    """Use a reset link: set the new password (once), end every session, sign in afresh."""
    return _use(token, "password_reset")


# ---- asking for a reset -----------------------------------------------------------------------


@link_pages_blueprint.get("/password-reset")
def request_form() -> Response:
    """The "Forgot password?" page: a form asking for an email."""
    return _page(
        200,
        "Forgot your password?",
        "Enter your email: we send you a link to choose a new password.",
        "signin/reset_request.html",
        action=url_for("signin_links.request_reset"),
    )


@link_pages_blueprint.post("/password-reset")
def request_reset() -> Response | tuple[Response, int]:
    """Ask for a reset link: the same answer whether or not the account exists."""
    _refuse_cross_site()
    email = _field("email").strip()
    try:
        signin_limits.count_reset(email)
    except ratelimit.RateLimited as limited:
        return _refused_page(limited)
    link_mail.queue_reset(email)  # the worker looks the account up: the same work for all
    if _wants_json():
        response = jsonify({"message": RESET_ANSWER})
        response.headers["Cache-Control"] = "no-store"
        return response, 202
    return _page(200, "Check your email", RESET_ANSWER)


# ---- request fields ---------------------------------------------------------------------------


def _refuse_cross_site() -> None:
    if request.headers.get("Sec-Fetch-Site", "").lower() in CROSS_SITE:
        raise Forbidden("use Klaxon's own pages, not another site's")


def _field(name: str) -> str:
    """One string field of a JSON object or a form; a 4xx when it is missing."""
    body = request_fields()
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise invalid(name, "is required")
    return value[:MAX_FIELD]
