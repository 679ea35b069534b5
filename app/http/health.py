"""GET /livez, /readyz, /healthz: no auth, no rate limit, bounded by the check timeout."""

from __future__ import annotations

import json
from importlib import metadata

from flask import Blueprint, Response, current_app

from app.http.runtime import WebRuntime
from app.platform.health import READY_CHECKS, SYSTEM_CHECKS

health_blueprint = Blueprint("health", __name__)

HEALTH_CONTENT_TYPE = "application/health+json"


def _version() -> str:
    try:
        return metadata.version("klaxon")
    except metadata.PackageNotFoundError:
        return "0+unknown"


VERSION = _version()


def started_runtime() -> WebRuntime:
    """This web process's runtime, its background parts (listener, checks) started."""
    runtime: WebRuntime = current_app.extensions["klaxon"]
    runtime.start()
    return runtime


def _answer(status: str, checks: dict[str, object] | None = None) -> Response:
    body: dict[str, object] = {"status": status, "version": VERSION}
    if checks is not None:
        body["checks"] = checks
    code = 503 if status == "fail" else 200
    response = Response(json.dumps(body), status=code, content_type=HEALTH_CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


@health_blueprint.get("/livez")
def livez() -> Response:
    """200 while this process can serve requests; it asks nothing of any dependency."""
    return _answer("pass")


@health_blueprint.get("/readyz")
def readyz() -> Response:
    """This process's own dependencies: database, redis, listener."""
    status, checks = started_runtime().health.evaluate(READY_CHECKS)
    return _answer(status, checks)


@health_blueprint.get("/healthz")
def healthz() -> Response:
    """The whole system: readiness plus workers, engine and queue backlog."""
    status, checks = started_runtime().health.evaluate(SYSTEM_CHECKS)
    return _answer(status, checks)
