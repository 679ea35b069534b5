"""Admin pages: stock rq-dashboard at /admin/rq, for admin API keys only.

Two ways in, both proving an admin API key:

- `Authorization: Bearer <admin key>` on every request (scripts, curl);
- a browser session: the key is POSTed once to /admin/login (a form, never a URL, so it stays
  out of access logs and browser history) and exchanged for a signed cookie (KLAXON_SECRET_KEY)
  that is HttpOnly, SameSite=Strict, limited to /admin, Secure when KLAXON_PUBLIC_URL is https,
  and valid for SESSION_LIFETIME from sign-in. The key itself is never stored: the cookie holds
  its id, and every request checks that the key is still live and still admin, so revoking the
  key ends the session.

SameSite=Strict rather than Lax: rq-dashboard changes state on a GET (/requeue/<queue>), which
Lax would let another site trigger with a plain link.

Everything under /admin except the login and logout pages needs one of them: a request without
gets 401, a read/write key 403 (the JSON error envelope either way), never the dashboard, its
static files or its JSON endpoints. The check runs before any rq-dashboard code, and the
dashboard's Redis client is Klaxon's (REDIS_URL, socket timeouts, no retries) instead of the
unbounded one rq-dashboard would build on every request.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    current_app,
    g,
    redirect,
    render_template_string,
    request,
    session,
    url_for,
)
from flask.sessions import (
    NullSession,
    SecureCookieSession,
    SecureCookieSessionInterface,
    SessionMixin,
)
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import NotFound

from app.alerts.store import Actor
from app.directory import api_keys
from app.http.auth import Forbidden, Unauthorized, authenticate, bearer_token
from app.http.page_headers import DASHBOARD_CSP, PAGE_HEADERS
from app.platform import ratelimit
from app.platform.pool import Unavailable
from app.platform.redis_client import make_redis
from config.settings import Settings, redact_url

log = structlog.get_logger(__name__)

ADMIN_PREFIX = "/admin"
DASHBOARD_PREFIX = "/admin/rq"
DASHBOARD_BLUEPRINT = "rq_dashboard"  # the name rq-dashboard registers its blueprint under
SESSION_COOKIE = "klaxon_admin"
# A working day: a cookie left on a shared machine stops working by the next morning.
SESSION_LIFETIME = timedelta(hours=8)
SESSION_KEY_ID = "api_key_id"
# Sec-Fetch-Site values a browser sends for requests another site started: such a request may
# not act on an admin session (rq-dashboard changes state on GET /requeue/<queue>, for one).
CROSS_SITE = frozenset({"cross-site", "same-site"})

admin_blueprint = Blueprint("admin", __name__, url_prefix=ADMIN_PREFIX)
# Pages anyone may open: they are how a browser gets (or drops) an admin session.
PUBLIC_ENDPOINTS = frozenset({"admin.login_form", "admin.login", "admin.logout"})


def register_admin(app: Flask) -> None:
    """Mount the login pages and rq-dashboard on `app`, behind the admin check."""
    settings: Settings = app.extensions["klaxon"].settings
    _configure_session(app, settings)
    app.before_request(_require_admin_for_admin_pages)
    app.after_request(_admin_page_headers)
    app.register_blueprint(admin_blueprint)
    _mount_dashboard(app, settings)


def _configure_session(app: Flask, settings: Settings) -> None:
    # Only the admin pages use Flask's session; its cookie never travels to /api or ingest.
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_PATH=ADMIN_PREFIX,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        # The lifetime counts from sign-in: the dashboard polls every few seconds, and a cookie
        # re-issued on each poll would never expire while a tab stays open.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    app.session_interface = AdminOnlySessions()


class AdminOnlySessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, opened only under /admin: elsewhere (ingest, /api) a
    request gets the null session at no cost, and no session cookie is ever set."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.path.startswith(ADMIN_PREFIX):
            return None  # Flask substitutes its null session
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if isinstance(session, NullSession):
            return
        super().save_session(app, session, response)


def _admin_page_headers(response: Response) -> Response:
    """Every answer under /admin (pages, errors, the dashboard's JSON) gets the action pages'
    framing and content-security headers; the dashboard's own pages a CSP that lets its
    same-origin scripts and styles run."""
    if not _under_admin(request.path):
        return response
    response.headers.update(PAGE_HEADERS)
    if request.blueprint == DASHBOARD_BLUEPRINT and response.status_code < 400:
        response.headers["Content-Security-Policy"] = DASHBOARD_CSP
        if request.endpoint == f"{DASHBOARD_BLUEPRINT}.static":
            del response.headers["Cache-Control"]  # static files may be cached
    return response


def _under_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def _require_admin_for_admin_pages() -> None:
    if _is_admin_request():
        require_admin()


def _is_admin_request() -> bool:
    """True for every request under /admin (matched or not) except the login pages."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return False
    if request.blueprint in (DASHBOARD_BLUEPRINT, admin_blueprint.name):
        return True
    return _under_admin(request.path)


def require_admin() -> api_keys.ApiKey:
    """The admin key behind this request (Bearer header or session); raises 401/403 otherwise."""
    if bearer_token() is not None:
        return authenticate("admin")
    key_id = session.get(SESSION_KEY_ID)
    if not isinstance(key_id, str):
        raise Unauthorized(
            "an admin API key is required: send `Authorization: Bearer <key>`, "
            f"or sign in at {ADMIN_PREFIX}/login"
        )
    _refuse_cross_site()
    api_key = _live_key(key_id)
    if api_key is None:
        session.clear()
        raise Unauthorized(
            f"the API key of this session was revoked; sign in again at {ADMIN_PREFIX}/login"
        )
    if api_key.scope != "admin":
        raise Forbidden(f"this session's API key has scope {api_key.scope!r}; 'admin' is required")
    g.api_key = api_key
    g.actor = Actor("api_key", api_key.id)
    return api_key


def _refuse_cross_site() -> None:
    if request.headers.get("Sec-Fetch-Site", "").lower() in CROSS_SITE:
        raise Forbidden("an admin session cannot be used from another site")


def _live_key(key_id: str) -> api_keys.ApiKey | None:
    try:
        uid = uuid.UUID(key_id)
    except ValueError:
        return None
    with current_app.extensions["klaxon"].db.transaction() as conn:
        return api_keys.live_api_key(conn, uid)


# -- login / logout ---------------------------------------------------------------------------

_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Klaxon admin</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}
input[type=password]{width:100%;padding:.5rem;font-family:monospace}
button{margin-top:1rem;padding:.5rem 1rem}.error{color:#b00020}</style></head>
<body><h1>Klaxon admin</h1>
{% if message %}<p class="error" role="alert">{{ message }}</p>{% endif %}
<form method="post" action="{{ url_for('admin.login') }}">
<label for="key">Admin API key (<code>klaxon create-api-key --scope admin</code>)</label>
<input id="key" name="key" type="password" autocomplete="off" required autofocus>
<button type="submit">Sign in</button></form>
<form method="post" action="{{ url_for('admin.logout') }}"><button type="submit">Sign out</button>
</form></body></html>
"""


@admin_blueprint.get("/login")
def login_form() -> Response:
    return _login_page()


@admin_blueprint.post("/login")
def login() -> Response:
    """Exchange an admin API key (form field `key`) for a session cookie."""
    if request.headers.get("Sec-Fetch-Site", "").lower() in CROSS_SITE:
        return _login_page("Sign in from this page, not from another site.", 403)
    token = request.form.get("key", "").strip()
    if not token:
        return _login_page("Paste an admin API key.", 400)
    with current_app.extensions["klaxon"].db.transaction() as conn:
        api_key = api_keys.verify_api_key(conn, token)
    if api_key is None:
        limited = ratelimit.failed_credentials("admin-login")
        if limited is not None:
            response = _login_page(
                f"Too many failed sign-ins; retry in {limited.retry_after} s.", 429
            )
            response.headers.update(limited.headers)
            return response
        return _login_page("That API key is invalid or revoked.", 401)
    if api_key.scope != "admin":
        return _login_page(f"That key has scope {api_key.scope!r}; an admin key is needed.", 403)
    session.clear()
    session.permanent = True
    session[SESSION_KEY_ID] = api_key.id
    log.info("admin_signed_in", api_key_id=api_key.id)
    return redirect(f"{DASHBOARD_PREFIX}/", code=303)  # type: ignore[return-value]


@admin_blueprint.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("admin.login_form"), code=303)  # type: ignore[return-value]


@admin_blueprint.get("/")
def index() -> Response:
    return redirect(f"{DASHBOARD_PREFIX}/", code=303)  # type: ignore[return-value]


def _login_page(message: str = "", status: int = 200) -> Response:
    response = Response(render_template_string(_LOGIN_PAGE, message=message), status=status)
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
