"""What every web app page shares: the blueprint, the signed-in viewer (or a redirect to the
sign-in page), rendering with the CSRF token, and the security headers.

A page acts as the session's user through app.http.auth.authenticate, exactly as /api/v1 does
with a session cookie: reads need scope `read`, actions `write` and the session's CSRF token
(a form field, or htmx's X-CSRF-Token header, which app.js sets from the page's meta tag).
Without a live session a page redirects to /login?next=<this path>; an htmx request gets
`HX-Redirect` instead, so the whole tab goes to the sign-in page rather than a fragment of it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import psycopg
from flask import Blueprint, Response, current_app, g, redirect, render_template, request

from app.directory import users
from app.http import session_cookie
from app.http.api.routing import database_refusal, transaction
from app.http.auth import Identity, authenticate
from app.http.oidc import DEFAULT_NEXT, safe_next
from app.http.page_headers import WEB_APP_HEADERS
from app.http.pages.formatting import when
from app.http.permissions import Rule
from app.platform.errors import ApiError, Unauthorized, error_response

pages_blueprint = Blueprint(
    "pages",
    __name__,
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/assets",
)
HOME = "/alerts"  # where a sign-in goes when it was sent nowhere in particular
SIGN_IN = "/login"


@dataclass(frozen=True)
class Viewer:
    """The signed-in person looking at a page: their identity, name and time zone."""

    identity: Identity
    user_id: str
    name: str
    email: str
    csrf_token: str

    @functools.cached_property
    def time_zone(self) -> str:
        """The profile's zone, read only when a page shows a time (a 204 refresh shows none)."""
        with transaction() as conn:
            user = users.get_user(conn, self.user_id)
        return str(user["time_zone"]) if user else "UTC"


class NotSignedIn(Exception):
    """No live session: the page answers with a redirect to the sign-in page."""


def local_next(value: str | None) -> str:
    """A local path to go to after signing in (the OIDC flow's rule); the alert list when
    `value` is missing or leads elsewhere."""
    found = safe_next(value)
    return HOME if found == DEFAULT_NEXT and value != DEFAULT_NEXT else found


def viewer(rule: Rule, scope: str = "read") -> Viewer:
    """The session's user, allowed `scope` by authentication and `rule` by the permission rule
    the matching /api/v1 route states; raises NotSignedIn, or the 403 those raise."""
    if session_cookie.cookie_token() is None:
        raise NotSignedIn()
    try:
        identity = authenticate(scope)
    except Unauthorized:
        raise NotSignedIn() from None
    rule.check(identity)
    live = identity.session
    assert live is not None and identity.user_id is not None  # a session cookie authenticated
    g.page_viewer = found = Viewer(
        identity=identity,
        user_id=identity.user_id,
        name=live.name,
        email=live.email,
        csrf_token=session_cookie.csrf_for(live.id),
    )
    return found


def sign_in_redirect() -> Response:
    """To the sign-in page, coming back to this page (a fragment's page: the Referer's path is
    not trusted, the list is)."""
    path = request.full_path.rstrip("?") if request.method == "GET" else HOME
    if request.headers.get("HX-Request"):
        path = HOME
    target = f"{SIGN_IN}?{urlencode({'next': local_next(path)})}"
    if request.headers.get("HX-Request"):
        response = Response(status=204, headers={"HX-Redirect": target})
    else:
        response = redirect(target, code=303)  # type: ignore[assignment]
    return response


def page(template: str, status: int = 200, **context: Any) -> Response:
    """A rendered page (or fragment) with the web app's security headers."""
    html = render_template(template, oidc_name=_oidc_name(), viewer=g.get("page_viewer"), **context)
    return Response(html, status=status, content_type="text/html; charset=utf-8")


def _oidc_name() -> str:
    oidc = current_app.extensions["klaxon"].settings.oidc
    return oidc.name if oidc else ""


_TITLES = {403: "Not allowed", 404: "Not found", 409: "Cannot do that", 422: "Check the form"}


def refusal(error: ApiError) -> Response:
    """An error as a page with its status (the API's JSON envelope is no use to a person)."""
    title = _TITLES.get(error.status, "Something went wrong")
    response = page(
        "pages/message.html", status=error.status, title=title, message=error_text(error)
    )
    response.headers.update(error.headers)
    return response


def error_text(error: ApiError) -> str:
    """An error's message with the fields it names, for a person."""
    details = "; ".join(
        f"{d.get('field', '')}: {d.get('message', '')}"
        for d in error.details.get("errors", [])
        if isinstance(d, dict)
    )
    return f"{error.message} ({details})" if details else error.message


@pages_blueprint.after_request
def _headers(response: Response) -> Response:
    """Every answer of the web app (pages, fragments, redirects, errors) gets the security
    headers; its static files may be cached (revalidated by their Last-Modified)."""
    response.headers.update(WEB_APP_HEADERS)
    if request.endpoint == "pages.static":
        del response.headers["Cache-Control"]
    return response


@pages_blueprint.context_processor
def _helpers() -> dict[str, Any]:
    return {"when": when}


@pages_blueprint.errorhandler(NotSignedIn)
def _not_signed_in(_error: NotSignedIn) -> Response:
    return sign_in_redirect()


# Refusals a person can act on are pages; any other (a body too large or too slow, 503) is the
# JSON error envelope, as everywhere: the request never reached a page.
PAGE_STATUSES = frozenset({401, 403, 404, 409, 422, 429})


@pages_blueprint.errorhandler(psycopg.errors.IntegrityError)
@pages_blueprint.errorhandler(psycopg.errors.DataError)
def _database_refused(exc: psycopg.Error) -> Response:
    """A form that breaks a constraint (the same thing twice): the API's 409 or 422, as a page."""
    return refusal(database_refusal(exc))


@pages_blueprint.errorhandler(ApiError)
def _refused(error: ApiError) -> Response:
    if error.status in PAGE_STATUSES:
        return refusal(error)
    response = error_response(error.status, error.code, error.message, error.details)
    response.headers.update(error.headers)
    return response
