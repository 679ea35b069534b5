"""Signing in with OpenID Connect: `GET /auth/oidc/start` and `GET /auth/oidc/callback`
(README, Signing in with OpenID Connect).

`start` fetches the provider's discovery document, makes a fresh attempt (state, nonce, PKCE
verifier; app.directory.oidc.flow) and sends the browser to the provider, keeping the attempt in
a signed cookie that lives ATTEMPT_TTL seconds on /auth/oidc only. `callback` checks the state
against that cookie, counts a sign-in attempt (the same limits as passwords), redeems the code,
verifies the ID token, finds or makes the user (app.directory.oidc.accounts) and starts the same
server-side session as `POST /auth/login`. Every provider call of one request shares one
deadline (KLAXON_OIDC_TIMEOUT). A sign-in that stops answers a page saying why, with the status
its error carries (app.directory.oidc.errors); the attempt cookie is dropped either way.
"""

from __future__ import annotations

import time

import structlog
from flask import Blueprint, Response, current_app, g, render_template, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.audit import context as audit_context
from app.directory import signin
from app.directory.oidc import accounts, flow
from app.directory.oidc.errors import AttemptInvalid, NotVerified, OidcError
from app.directory.oidc.provider import Provider
from app.http import session_cookie, signin_limits
from app.http.page_headers import PAGE_HEADERS
from app.http.runtime import WebRuntime
from app.platform import ratelimit
from app.platform.errors import NotFound
from app.platform.ratelimit import RateLimited
from config.settings import OidcSettings

log = structlog.get_logger(__name__)

oidc_blueprint = Blueprint("oidc", __name__, url_prefix="/auth/oidc", template_folder="templates")

ATTEMPT_COOKIE = "klaxon_oidc"
ATTEMPT_PATH = "/auth/oidc"
ATTEMPT_TTL = 600  # seconds from start to callback: time to type a password and a second factor
ATTEMPT_SALT = "klaxon-oidc-attempt"  # keeps these signatures apart from any other use of the key
DEFAULT_NEXT = "/admin/login"  # the sign-in page, which says who is signed in
SIGN_IN_PAGE = "/admin/login"
MAX_NEXT = 512  # characters of a `next` path kept
MAX_CODE = 2048  # characters of an authorization code accepted


def _runtime() -> WebRuntime:
    runtime: WebRuntime = current_app.extensions["klaxon"]
    runtime.start()
    return runtime


def _provider() -> tuple[Provider, OidcSettings]:
    provider = _runtime().oidc
    if provider is None:
        raise NotFound("OpenID Connect sign-in is not configured (KLAXON_OIDC_ISSUER)")
    return provider, provider.settings


def redirect_uri() -> str:
    """The callback URL the provider must have registered for Klaxon's client."""
    return f"{_runtime().settings.public_url}{ATTEMPT_PATH}/callback"


def safe_next(value: str | None) -> str:
    """A local path to go to after signing in; anything else (another site, `//host`, a
    backslash some browsers read as a slash) is replaced by the sign-in page."""
    if not value or len(value) > MAX_NEXT or not value.isprintable():
        return DEFAULT_NEXT
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return DEFAULT_NEXT
    return value


@oidc_blueprint.get("/start")
def start() -> Response:
    """Send the browser to the identity provider with a fresh attempt."""
    provider, settings = _provider()
    deadline = time.monotonic() + settings.timeout
    try:
        meta = provider.metadata(deadline)
    except OidcError as stopped:
        return _refused(stopped)
    attempt = flow.new_attempt(safe_next(request.args.get("next")))
    url = flow.authorization_url(meta.authorization_endpoint, settings, redirect_uri(), attempt)
    response = Response(status=302, headers={"Location": url, **PAGE_HEADERS})
    _keep_attempt(response, attempt)
    log.info("oidc_sign_in_started")
    return response


@oidc_blueprint.get("/callback")
def callback() -> Response:
    """Finish the attempt: on success the session cookie is set and the browser sent on."""
    provider, settings = _provider()
    try:
        attempt = _check_callback()
        signin_limits.count_address_attempt()
        done = _finish(provider, settings, attempt)
    except OidcError as stopped:
        return _refused(stopped)
    except RateLimited as limited:
        response = _page(429, "Too many sign-in attempts", limited.message)
        response.headers.update(limited.headers)
        return response
    log.info("signed_in", user_id=done.user["id"], session_id=done.session["id"], via="oidc")
    response = Response(status=303, headers={"Location": attempt.next_path, **PAGE_HEADERS})
    session_cookie.set_cookie(response, done.token)
    _drop_attempt(response)
    return response


def _check_callback() -> flow.Attempt:
    """The attempt this callback belongs to, once its state matches; the provider's own
    refusal (the person cancelled) after that."""
    attempt = _attempt()
    state = request.args.get("state", "")
    if not flow.states_match(attempt.state, state[:256]):
        log.info("oidc_sign_in_refused", reason="state_mismatch")
        raise AttemptInvalid("this sign-in answer does not belong to the sign-in you started")
    error = request.args.get("error")
    if error is not None:
        shown = error[:64] if error.isascii() and error.isprintable() else "an error"
        log.info("oidc_sign_in_refused", reason="provider_error", error=shown)
        raise NotVerified(f"the identity provider did not sign you in ({shown})")
    return attempt


def _finish(provider: Provider, settings: OidcSettings, attempt: flow.Attempt) -> signin.SignedIn:
    code = request.args.get("code", "")
    if not code or len(code) > MAX_CODE:
        raise AttemptInvalid("the identity provider's answer carries no authorization code")
    deadline = time.monotonic() + settings.timeout
    id_token = flow.redeem_code(provider, code, redirect_uri(), attempt.verifier, deadline)
    claims = flow.verify_id_token(provider, id_token, attempt.nonce, deadline)
    person = accounts.person_from(claims, settings)
    signin_limits.count_account_attempt(person.email or f"{settings.issuer} {person.subject}")
    runtime = _runtime()
    with runtime.db.transaction() as conn:
        # A first sign-in creates a user; the groups claim may change memberships and the role.
        # Those are configuration changes the provider made, so the audit log names it.
        audit_context.declare(conn, audit_context.Declared(
            "system", f"oidc {settings.issuer}", "oidc_sign_in", "users", None, creates=True
        ))  # fmt: skip
        user = accounts.user_for(conn, person, settings)
        return signin.start_session(
            conn, user, runtime.settings.sessions,
            user_agent=request.headers.get("User-Agent", ""),
            address=ratelimit.client_address(),
        )  # fmt: skip


# ---- the attempt cookie ------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_runtime().settings.secret_key, salt=ATTEMPT_SALT)


def _keep_attempt(response: Response, attempt: flow.Attempt) -> None:
    value = _serializer().dumps(
        {"s": attempt.state, "n": attempt.nonce, "v": attempt.verifier, "r": attempt.next_path}
    )
    response.set_cookie(
        ATTEMPT_COOKIE,
        value,
        max_age=ATTEMPT_TTL,
        path=ATTEMPT_PATH,
        secure=_runtime().settings.public_url.startswith("https://"),
        httponly=True,
        # Lax: the provider sends the browser back with a top-level GET, which carries it.
        samesite="Lax",
    )


def _attempt() -> flow.Attempt:
    raw = request.cookies.get(ATTEMPT_COOKIE, "")
    if not raw or len(raw) > 2048:
        raise AttemptInvalid(
            "this browser has no sign-in in progress (cookies off, or another tab started a "
            "newer one)"
        )
    try:
        kept = _serializer().loads(raw, max_age=ATTEMPT_TTL)
    except SignatureExpired:
        raise AttemptInvalid(
            f"this sign-in took more than {ATTEMPT_TTL // 60} minutes; start again"
        ) from None
    except BadSignature:
        raise AttemptInvalid("this browser's sign-in cookie is not one Klaxon made") from None
    return flow.Attempt(state=kept["s"], nonce=kept["n"], verifier=kept["v"], next_path=kept["r"])


def _drop_attempt(response: Response) -> None:
    response.delete_cookie(
        ATTEMPT_COOKIE,
        path=ATTEMPT_PATH,
        secure=_runtime().settings.public_url.startswith("https://"),
        httponly=True,
        samesite="Lax",
    )


# ---- pages -------------------------------------------------------------------------------------

TITLES = {
    400: "This sign-in cannot be completed",
    401: "Sign-in not verified",
    403: "You cannot sign in to Klaxon",
    502: "The identity provider is unavailable",
    504: "The identity provider did not answer",
}


def _refused(stopped: OidcError) -> Response:
    log.info("oidc_sign_in_stopped", status=stopped.status, code=stopped.code)
    message = stopped.message[0].upper() + stopped.message[1:] + "."
    return _page(stopped.status, TITLES.get(stopped.status, "Sign-in failed"), message)


def _page(status: int, title: str, message: str) -> Response:
    html = render_template(
        "signin/oidc_refused.html",
        title=title,
        heading=title,
        message=message,
        alert=None,
        again=SIGN_IN_PAGE,
        request_id=g.get("request_id", ""),
    )
    response = Response(html, status=status, content_type="text/html; charset=utf-8")
    response.headers.update(PAGE_HEADERS)
    _drop_attempt(response)
    return response
