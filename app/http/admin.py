"""Admin pages: stock rq-dashboard at /admin/rq, for admins only.

Two ways in:

- `Authorization: Bearer <admin API key>` on every request (scripts, curl);
- a browser session of an admin user: /admin/login takes an email and password (a form, so they
  stay out of URLs, logs and history) and starts a sign-in session like `POST /auth/login`
  (app.http.signin, app.http.session_cookie). Every request checks that the session still lives
  and that its user is still an admin; signing out revokes the session row, so the old cookie
  stops working everywhere at once.

A session's requests that act (every POST, and rq-dashboard's GET /requeue/<queue>) need the
session's CSRF token: the dashboard's pages hand it to the dashboard's own script, which sends it
as X-CSRF-Token. A request the browser marks as started by another site (Sec-Fetch-Site) may not
use the session at all.

Everything under /admin except the login and logout pages and the web app's admin pages needs
one of them: a request without gets 401, a read/write key or a non-admin user 403 (the JSON error
envelope either way), never the dashboard, its static files or its JSON endpoints. The web app's
admin pages (/admin itself, /admin/users, /admin/system, …: app.http.pages.admin_*) check their
own viewer with the ADMINS rule, as every page does: a browser without a session goes to the web
app's sign-in page, a non-admin gets the 403 page, and they keep the web app's headers. The
check runs before any rq-dashboard code, and the dashboard's Redis client is Klaxon's
(REDIS_URL, socket timeouts, no retries) instead of the unbounded one rq-dashboard would build
on every request.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import structlog
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template_string,
    request,
    url_for,
)
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import NotFound

from app.http import session_cookie
from app.http.auth import Forbidden, Identity, Unauthorized, authenticate, bearer_token
from app.http.page_headers import DASHBOARD_CSP, PAGE_HEADERS
from app.http.signin import PAGE_REFUSALS, credentials, end_session, refusal_text, sign_in
from app.platform.errors import ApiError
from app.platform.pool import Unavailable
from app.platform.redis_client import make_redis
from config.settings import Settings, redact_url

log = structlog.get_logger(__name__)

ADMIN_PREFIX = "/admin"
DASHBOARD_PREFIX = "/admin/rq"
DASHBOARD_BLUEPRINT = "rq_dashboard"  # the name rq-dashboard registers its blueprint under
# rq-dashboard endpoints that act although a GET may reach them: a session needs its CSRF token.
ACTING_GETS = frozenset({f"{DASHBOARD_BLUEPRINT}.requeue_all"})
# Sec-Fetch-Site values a browser sends for requests another site started: such a request may
# not act on an admin session (rq-dashboard changes state on GET /requeue/<queue>, for one).
CROSS_SITE = frozenset({"cross-site", "same-site"})

admin_blueprint = Blueprint("admin", __name__, url_prefix=ADMIN_PREFIX)
# Pages anyone may open: they are how a browser gets (or drops) an admin session.
PUBLIC_ENDPOINTS = frozenset({"admin.login_form", "admin.login", "admin.logout"})
# The web app's blueprint (app.http.pages.base): its admin pages check their viewer themselves.
WEB_APP_BLUEPRINT = "pages"


def register_admin(app: Flask) -> None:
    """Mount the login pages and rq-dashboard on `app`, behind the admin check."""
    settings: Settings = app.extensions["klaxon"].settings
    app.before_request(_require_admin_for_admin_pages)
    app.after_request(_admin_page_headers)
    app.register_blueprint(admin_blueprint)
    _mount_dashboard(app, settings)


def _admin_page_headers(response: Response) -> Response:
    """Every answer under /admin (pages, errors, the dashboard's JSON) gets the action pages'
    framing and content-security headers; the dashboard's own pages a CSP that lets its
    same-origin scripts and styles run, and a session's pages its CSRF token."""
    if not _under_admin(request.path) or request.blueprint == WEB_APP_BLUEPRINT:
        return response
    response.headers.update(PAGE_HEADERS)
    if request.blueprint == DASHBOARD_BLUEPRINT and response.status_code < 400:
        response.headers["Content-Security-Policy"] = DASHBOARD_CSP
        if request.endpoint == f"{DASHBOARD_BLUEPRINT}.static":
            del response.headers["Cache-Control"]  # static files may be cached
        _hand_csrf_token_to_dashboard(response)
    return response


# Appended to the dashboard's HTML pages for a session, after its own scripts (jQuery): every
# request the dashboard's script makes carries the session's CSRF token.
_CSRF_SCRIPT = (
    '<script type="text/javascript">$(document).ajaxSend(function (e, xhr) '
    '{ xhr.setRequestHeader("X-CSRF-Token", "%s"); });</script>'
)


def _hand_csrf_token_to_dashboard(response: Response) -> None:
    identity: Identity | None = g.get("identity")
    if identity is None or identity.session is None or response.mimetype != "text/html":
        return
    script = (_CSRF_SCRIPT % session_cookie.csrf_for(identity.session.id)).encode()
    body = response.get_data()
    if b"</body>" in body:
        response.set_data(body.replace(b"</body>", script + b"</body>", 1))


def _under_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def _require_admin_for_admin_pages() -> None:
    if _is_admin_request():
        require_admin()


def _is_admin_request() -> bool:
    """True for every request under /admin (matched or not) except the login pages and the web
    app's admin pages."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.blueprint == WEB_APP_BLUEPRINT:
        return False
    if request.blueprint in (DASHBOARD_BLUEPRINT, admin_blueprint.name):
        return True
    return _under_admin(request.path)


def require_admin() -> Identity:
    """The admin key or admin user's session behind this request; raises 401/403 otherwise."""
    if bearer_token() is None and session_cookie.cookie_token() is None:
        raise Unauthorized(
            "an admin API key or session is required: send `Authorization: Bearer <key>`, "
            f"or sign in at {ADMIN_PREFIX}/login"
        )
    if bearer_token() is None:
        _refuse_cross_site()
    acts = session_cookie.changes_state() or request.endpoint in ACTING_GETS
    return authenticate("admin", changes_state=acts)


def _refuse_cross_site() -> None:
    if request.headers.get("Sec-Fetch-Site", "").lower() in CROSS_SITE:
        raise Forbidden("an admin session cannot be used from another site")


# -- login / logout ---------------------------------------------------------------------------

_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Klaxon admin</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}
input{width:100%;padding:.5rem;margin-bottom:.5rem}
button{margin-top:1rem;padding:.5rem 1rem}.error{color:#b00020}</style></head>
<body><h1>Klaxon admin</h1>
{% if message %}<p class="error" role="alert">{{ message }}</p>{% endif %}
{% if csrf_token %}<p>You are signed in{% if who %} as {{ who }}{% endif %}.
{% if is_admin %}<a href="{{ dashboard }}">Open the dashboard</a>.{% endif %}</p>
<form method="post" action="{{ url_for('admin.logout') }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button type="submit">Sign out</button></form>
{% else %}<form method="post" action="{{ url_for('admin.login') }}">
<label for="email">Email (an admin user: <code>klaxon create-user --admin --password-stdin</code>)
</label><input id="email" name="email" type="email" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>
<p><a href="{{ url_for('signin_links.request_form') }}">Forgot password?</a></p>
{% if oidc_name %}<p><a href="{{ oidc_start }}">Sign in with {{ oidc_name }}</a></p>{% endif %}
{% endif %}
</body></html>
"""


@admin_blueprint.get("/login")
def login_form() -> Response:
    live = session_cookie.current_session() if session_cookie.cookie_token() else None
    if live is None:
        return _login_page()
    return _login_page(
        csrf_token=session_cookie.csrf_for(live.id), who=live.email, is_admin=live.role == "admin"
    )


@admin_blueprint.post("/login")
def login() -> Response:
    """Sign an admin user in (form fields `email`, `password`) and open the dashboard."""
    try:
        if request.headers.get("Sec-Fetch-Site", "").lower() in CROSS_SITE:
            raise Forbidden("Sign in from this page, not from another site.")
        done = sign_in(*credentials(), admin_only=True)
    except ApiError as refused:
        if refused.status not in PAGE_REFUSALS:
            raise  # a body too large or too slow: the JSON envelope, as everywhere
        page = _login_page(refusal_text(refused), refused.status)
        page.headers.update(refused.headers)
        return page
    response = redirect(f"{DASHBOARD_PREFIX}/", code=303)
    session_cookie.set_cookie(response, done.token)
    return response  # type: ignore[return-value]


@admin_blueprint.post("/logout")
def logout() -> Response:
    """Sign out: the session row is revoked (needs the page's CSRF token) and the cookie
    cleared."""
    end_session()
    response = redirect(url_for("admin.login_form"), code=303)
    session_cookie.clear_cookie(response)
    return response  # type: ignore[return-value]


def _login_page(
    message: str = "", status: int = 200, csrf_token: str = "", who: str = "", is_admin: bool = True
) -> Response:
    oidc = current_app.extensions["klaxon"].settings.oidc
    page = render_template_string(
        _LOGIN_PAGE,
        message=message,
        csrf_token=csrf_token,
        dashboard=f"{DASHBOARD_PREFIX}/",
        who=who,
        is_admin=is_admin,
        # OpenID Connect sign-in (app.http.oidc) comes back here, which says who signed in.
        oidc_name=oidc.name if oidc else "",
        oidc_start="/auth/oidc/start",
    )
    response = Response(page, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- rq-dashboard -----------------------------------------------------------------------------


class DashboardRedis:
    """One bounded Redis client per web process, built on first use (after fork)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Redis | None = None
        self._lock = threading.Lock()

    def client(self) -> Redis:
        with self._lock:
            if self._client is None:
                self._client = make_redis(
                    self._settings.redis_url,
                    self._settings.check_timeout,
                    self._settings.redis_tls,
                )
            return self._client


def _mount_dashboard(app: Flask, settings: Settings) -> None:
    import rq_dashboard
    from rq_dashboard import web as rq_web

    # Shown in the dashboard's instance list; the client itself comes from DashboardRedis.
    app.config["RQ_DASHBOARD_REDIS_URL"] = (redact_url(settings.redis_url),)
    app.extensions["klaxon_dashboard_redis"] = DashboardRedis(settings)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=DASHBOARD_PREFIX)
    # rq-dashboard's own per-request hook builds a fresh client without timeouts; this app's
    # copy of its hook list gets Klaxon's client instead (the shared blueprint is untouched).
    hooks = app.before_request_funcs.get(DASHBOARD_BLUEPRINT, [])
    app.before_request_funcs[DASHBOARD_BLUEPRINT] = [
        *(hook for hook in hooks if hook is not rq_web.push_rq_connection),
        _use_klaxon_redis,
    ]
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith(f"{DASHBOARD_BLUEPRINT}."):
            app.view_functions[endpoint] = _with_klaxon_errors(view)


def _use_klaxon_redis() -> None:
    """rq-dashboard reads its client from `current_app.redis_conn`; one Redis, instance 0."""
    if (request.view_args or {}).get("instance_number", 0) != 0:
        raise NotFound("Klaxon's dashboard has one Redis instance: 0")
    app: Any = current_app
    app.redis_conn = app.extensions["klaxon_dashboard_redis"].client()


def _with_klaxon_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """A missing job is a 404 and an unreachable Redis a 503, not a 500 with a traceback."""
    from rq.exceptions import NoSuchJobError

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except NoSuchJobError:
            raise NotFound("no such job") from None
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise Unavailable(f"redis: {exc}") from exc

    return wrapper
