"""The sign-in page (`/login`) and signing out (`POST /logout`).

Signing in is `POST /auth/login`'s own code (app.http.signin.sign_in: the same credential check,
the same limits per address and account, the same session cookie), from a form; a refusal is
shown on the page with its status (401 wrong email or password, 422 a field missing, 429 with
Retry-After, 403 a sign-in another site started). Afterwards the browser goes to `next` when
it is a local path, else to the alert list.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, redirect, request

from app.http import session_cookie
from app.http.pages.base import SIGN_IN, local_next, page, pages_blueprint
from app.http.signin import (
    PAGE_REFUSALS,
    credentials,
    end_session,
    refusal_text,
    refuse_cross_site,
    sign_in,
)
from app.platform.errors import ApiError


def _login_page(next_path: str, message: str = "", status: int = 200) -> Response:
    oidc_start = "/auth/oidc/start?" + urlencode({"next": next_path})
    return page(
        "pages/login.html",
        status=status,
        title="Sign in",
        message=message,
        next_path=next_path,
        oidc_start=oidc_start,
    )


@pages_blueprint.get(SIGN_IN)
def login_form() -> Response:
    """The sign-in form; a live session goes straight on to `next`."""
    next_path = local_next(request.args.get("next"))
    if session_cookie.cookie_token() and session_cookie.current_session() is not None:
        return redirect(next_path, code=303)  # type: ignore[return-value]
    return _login_page(next_path)


@pages_blueprint.post(SIGN_IN)
def login() -> Response:
    """Sign in with the form's email and password, then go on to `next`."""
    next_path = local_next(request.form.get("next"))
    try:
        refuse_cross_site()
        done = sign_in(*credentials())
    except ApiError as refused:
        if refused.status not in PAGE_REFUSALS:
            raise
        response = _login_page(next_path, refusal_text(refused), refused.status)
        response.headers.update(refused.headers)
        return response
    went = redirect(next_path, code=303)
    session_cookie.set_cookie(went, done.token)
    return went  # type: ignore[return-value]


@pages_blueprint.post("/logout")
def logout() -> Response:
    """Sign out (the session row is revoked; needs the page's CSRF token) and show the form."""
    end_session()
    response = redirect(SIGN_IN, code=303)
    session_cookie.clear_cookie(response)
    return response  # type: ignore[return-value]
