"""Klaxon's Flask application factory."""

from __future__ import annotations

import random
import time

import structlog
from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from app.platform.outbound.target import Resolver, system_resolver
from config.settings import Settings, load_settings

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
MAX_REQUEST_ID = 128


def create_app(settings: Settings | None = None, resolver: Resolver = system_resolver) -> Flask:
    """Build the Flask app. Does no network I/O: connections open lazily, after fork.
    `resolver` resolves webhook hosts when they are saved; tests may pass their own."""
    from app.http.actions import actions_blueprint
    from app.http.admin import register_admin
    from app.http.api import api_blueprint
    from app.http.health import health_blueprint
    from app.http.ingest import ingest_blueprint
    from app.http.metrics import register_metrics
    from app.http.oidc import oidc_blueprint
    from app.http.pages import register_pages
    from app.http.runtime import WebRuntime
    from app.http.signin import signin_blueprint
    from app.http.signin_link_pages import link_pages_blueprint
    from app.http.slack import slack_blueprint
    from app.http.twilio import twilio_blueprint
    from app.platform import body_limits
    from app.platform.errors import register_error_handlers

    settings = settings or load_settings()
    app = Flask("klaxon")  # keeps the `static` endpoint rq-dashboard's templates link to
    app.config["SECRET_KEY"] = settings.secret_key
    app.extensions["klaxon"] = WebRuntime(settings, resolver)
    _install_request_context(app)  # first: every answer, a 413 included, has its request id
    body_limits.install(app)  # before any hook or view that could read a body
    register_error_handlers(app)
    app.register_blueprint(health_blueprint)
    app.register_blueprint(ingest_blueprint)
    app.register_blueprint(api_blueprint)
    app.register_blueprint(signin_blueprint)
    app.register_blueprint(oidc_blueprint)
    app.register_blueprint(link_pages_blueprint)
    app.register_blueprint(actions_blueprint)
    app.register_blueprint(twilio_blueprint)
    app.register_blueprint(slack_blueprint)
    register_metrics(app, settings)
    register_admin(app)
    register_pages(app)
    _trust_proxies(app, settings.limits.proxy_hops)
    return app


def _trust_proxies(app: Flask, hops: int) -> None:
    """Take the client address from the last `hops` X-Forwarded-For entries (KLAXON_PROXY_HOPS).

    Only entries our own proxies appended can be trusted: a client may send any header, so with
    hops=0 (no proxy) the header is ignored and the socket's peer is the client.
    """
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]


def _install_request_context(app: Flask) -> None:
    @app.before_request
    def _bind_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming[:MAX_REQUEST_ID] if incoming.isprintable() and incoming else None
        # Request ids correlate log lines; they guard nothing, so no urandom syscall per request.
        g.request_id = request_id or f"{random.getrandbits(64):016x}"
        g.started = time.monotonic()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        return response

    @app.teardown_request
    def _unbind(_exc: BaseException | None) -> None:
        structlog.contextvars.unbind_contextvars("request_id")
