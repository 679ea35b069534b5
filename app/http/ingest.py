"""Ingest endpoints under /api/v2, wire-compatible with GoAlert (README, Sending alerts).

Every endpoint finds the integration key wherever GoAlert accepts one (401 without it) and
checks it before it reads the body when the key travels in the query string or a header: a
caller without a valid key costs one indexed lookup, never a parse of what it sent. (A form
body may carry the key itself, so a form is read — capped, decoded in linear time — first.)
The body is read with a hard cap (413) and parsed without touching the database; then the
alerts are written in one transaction (one statement for the common single-alert trigger, see
app.ingest.fastpath), which verifies the key again, so a key revoked meanwhile still writes
nothing. A wrong, revoked or wrong-type key is a 401 that says nothing about which, a bad
payload from a valid key a 4xx that says what is wrong, and a database failure a 503 with
Retry-After — never a success for an uncommitted alert.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

import structlog
from flask import Blueprint, Request, Response, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.datastructures import MultiDict

from app.directory.integration_keys import integration_key_is_live, verify_integration_key
from app.ingest import alertmanager, checkin, fastpath, generic, grafana
from app.ingest.body import (
    Body,
    decode_form,
    decode_json_object,
    is_form,
    read_body,
    require_json,
)
from app.ingest.credentials import find_token
from app.ingest.errors import IngestError, NotFound, Unauthorized, UnsupportedMediaType
from app.ingest.events import Event, Outcome, Result, apply
from app.platform import ratelimit
from app.platform.errors import ApiError, error_response
from app.platform.pool import Database

log = structlog.get_logger(__name__)

ingest_blueprint = Blueprint("ingest", __name__, url_prefix="/api/v2")

MISSING_TOKEN = (
    "no integration key given: pass it as the `token` query or form field, "
    "or as `Authorization: Bearer <key>`"
)
INVALID_TOKEN = "integration key not accepted for this endpoint"
UNKNOWN_MONITOR = "no heartbeat monitor with this check-in secret"


@ingest_blueprint.post("/generic/incoming")
def generic_incoming() -> Response:
    """GoAlert's generic API: 204, or 200 {"AlertID","ServiceID","IsNew"} for Accept JSON."""
    body, form = None, MultiDict[str, str]()
    if is_form(request):  # the key may be one of its fields
        body = read_body(request)
        form = decode_form(body)
    token = _authenticated("generic", find_token(request.args, form, _authorization(request)))
    body = body or read_body(request)
    outcome = _ingest(
        "generic", token, lambda: [generic.parse(request.args, form, _generic_json(body))]
    )
    if not wants_json(request):
        return Response(status=204)
    result = outcome.results[0]
    return jsonify(
        {
            "AlertID": result.alert_id or 0,
            "ServiceID": outcome.service_id,
            "IsNew": result.is_new,
        }
    )


@ingest_blueprint.post("/grafana/incoming")
def grafana_incoming() -> Response:
    """Grafana unified (version 1) or legacy webhook; 200 with what was done."""
    token = _authenticated("grafana", _header_or_query_token())
    dedup = request.args.get("dedup", "")
    body = read_body(request)
    outcome = _ingest("grafana", token, lambda: grafana.parse(require_json(body), dedup))
    return jsonify(outcome.counts())


@ingest_blueprint.post("/prometheusalertmanager/incoming")
def alertmanager_incoming() -> Response:
    """Alertmanager webhook (version 4); 200 with what was done."""
    token = _authenticated("prometheusAlertmanager", _header_or_query_token())
    body = read_body(request)
    outcome = _ingest(
        "prometheusAlertmanager", token, lambda: alertmanager.parse(require_json(body))
    )
    return jsonify(outcome.counts())


class UnknownMonitor(NotFound):
    """A check-in secret that matches no monitor: a failed credential, answered 404."""


@ingest_blueprint.post("/heartbeat/<secret>")
def heartbeat_checkin(secret: str) -> Response:
    """A heartbeat monitor checks in with its secret; an unknown one is a plain 404."""
    # The secret is the credential: checked, like an ingest key, before the body is read.
    secret_hash = checkin.secret_digest(secret)
    if secret_hash is None:
        raise UnknownMonitor(UNKNOWN_MONITOR)
    with _database().autocommit() as conn:
        if not checkin.exists(conn, secret_hash):
            raise UnknownMonitor(UNKNOWN_MONITOR)
    read_body(request)  # the limit holds here too; the content is not used
    with _database().autocommit() as conn:  # one statement: its own transaction
        monitor = checkin.record(conn, secret_hash)
    if monitor is None:
        raise UnknownMonitor(UNKNOWN_MONITOR)
    checked_in = monitor["last_checkin_at"].astimezone(UTC)
    return jsonify({**monitor, "last_checkin_at": checked_in.isoformat().replace("+00:00", "Z")})


# GoAlert's pre-v2 paths, which it still serves (by rewriting them to the v2 ones): sender
# configurations written for them keep working when only the host changes.
LEGACY_PATHS = (
    ("/v1/api/alerts", generic_incoming),
    ("/v1/webhooks/grafana", grafana_incoming),
    ("/v1/api/heartbeat/<secret>", heartbeat_checkin),
)


@ingest_blueprint.record_once
def _register_legacy_paths(state: BlueprintSetupState) -> None:
    # Outside the blueprint's /api/v2 prefix; the "ingest." endpoint names keep them under the
    # blueprint's error handler.
    for path, view in LEGACY_PATHS:
        state.app.add_url_rule(path, f"ingest.v1_{view.__name__}", view, methods=["POST"])


@ingest_blueprint.errorhandler(IngestError)
def _ingest_error(exc: IngestError) -> Response:
    # The route, not the path: the check-in path carries a secret.
    route = request.url_rule.rule if request.url_rule else "?"
    log.info("ingest_rejected", route=route, status=exc.status, error=exc.message)
    if isinstance(exc, Unauthorized | UnknownMonitor):
        # Counted only here, on failure: a valid key or secret never waits on the limiter.
        limited = ratelimit.failed_credentials("ingest")
        if limited is not None:
            return _api_error(limited)
    return _api_error(exc)


def _api_error(exc: ApiError) -> Response:
    response = error_response(exc.status, exc.code, exc.message, exc.details)
    response.headers.update(exc.headers)
    return response


def _authenticated(key_type: str, token: str | None) -> str:
    """`token`, if it is a live integration key of `key_type`; a 401 otherwise.

    Read-only (the write verifies again and records the use), so a refused request writes
    nothing.
    """
    if token is None:
        raise Unauthorized(MISSING_TOKEN)
    with _database().autocommit() as conn:
        if not integration_key_is_live(conn, token, key_type):
            raise Unauthorized(INVALID_TOKEN)
    return token


def _header_or_query_token() -> str | None:
    return find_token(request.args, MultiDict(), _authorization(request))


def _ingest(key_type: str, token: str, parse: Callable[[], Sequence[Event]]) -> Outcome:
    """Parse the payload (a 4xx if it is wrong), then write its events in one transaction.

    A lone trigger (most requests) takes the one-statement path. Both paths verify the key
    again as they write.
    """
    events = parse()
    if len(events) == 1 and events[0].action == "trigger":
        return _raise_one(key_type, token, events[0])
    with _database().transaction() as conn:
        key = verify_integration_key(conn, token)
        if key is None or key.type != key_type:
            raise Unauthorized(INVALID_TOKEN)
        return apply(conn, key, events)


def _raise_one(key_type: str, token: str, event: Event) -> Outcome:
    """The common case, one alert raised: verified and written in one statement."""
    with _database().autocommit() as conn:
        raised = fastpath.raise_with_key(conn, token, key_type, event)
    if raised is None:
        raise Unauthorized(INVALID_TOKEN)
    result = Result(event, raised.alert_id, raised.is_new, changed=raised.is_new)
    return Outcome(raised.service_id, [result])


def _generic_json(body: Body) -> dict[str, Any] | None:
    """The generic API's JSON body, if it has one; form and query-only requests have none."""
    if body.is_form or not body.raw.strip():
        return None
    if body.is_json or body.looks_like_json:
        return decode_json_object(body)
    raise UnsupportedMediaType(
        f"Content-Type {body.mimetype or '(none)'} is not supported here; send "
        "application/json, application/x-www-form-urlencoded or multipart/form-data",
        {
            "content_type": body.mimetype,
            "supported": [
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ],
        },
    )


def wants_json(req: Request) -> bool:
    """True when the Accept header names application/json itself (not only */*)."""
    accept = req.environ.get("HTTP_ACCEPT", "")
    return "json" in accept and any(
        part.split(";", 1)[0].strip().lower() == "application/json" for part in accept.split(",")
    )


def _authorization(req: Request) -> str | None:
    # From the environ: werkzeug's Headers.get builds a 400 exception for a missing header.
    value: str | None = req.environ.get("HTTP_AUTHORIZATION")
    return value


def _database() -> Database:
    db: Database = current_app.extensions["klaxon"].db
    return db
