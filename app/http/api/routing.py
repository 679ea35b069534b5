"""How an /api/v1 route is declared: one `endpoint(...)` binds URL, scope and schemas.

`endpoint` stacks, outermost first: authentication (an API key or a session) for the route's
scope (so a request without valid credentials is 401 before anything about it is parsed), the
JSON body checks (size, content type, well-formed JSON object), spectree's validation of query
and body against the pydantic models — the same models the OpenAPI document is generated from —
and then the route's permission rule (`allow=`, app.http.permissions: whose things this
identity may change). Validation answers before any lookup, so a malformed request is a 422
whoever sends it, and the rule's lookups (404 for an unknown parent) see only valid requests.
Every route that changes state must state its rule; reads default to EVERYONE.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import psycopg.errors
import structlog
from flask import Blueprint, current_app, g, request
from flask import Response as FlaskResponse
from pydantic import BaseModel, ValidationError
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import InType, SecureType, SecuritySchemeData
from spectree.utils import get_request_model_hints

from app.alerts.store import Actor
from app.audit import context as audit_context
from app.http import permissions
from app.http.api import audited
from app.http.api.schemas.base import ErrorBody
from app.http.api.validation import validation_failed
from app.http.auth import identity, require_scope
from app.http.session_cookie import COOKIE
from app.platform import json_input
from app.platform.body_limits import LIMITS
from app.platform.errors import (
    ApiError,
    Conflict,
    MalformedBody,
    NotFound,
    UnsupportedMediaType,
    ValidationFailed,
    error_response,
    invalid,
)
from config.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
log = structlog.get_logger(__name__)

API_PREFIX = "/api/v1"
MAX_BODY = LIMITS[
    "api"
]  # bytes; larger bodies are a 413 (app.platform.body_limits says why this size)
BEARER = "bearer"
SESSION = "session"

api_blueprint = Blueprint("api", __name__, url_prefix=API_PREFIX)


def _before_view(
    models: dict[str, type[BaseModel]], allow: permissions.Rule | None
) -> Callable[..., None]:
    """spectree's `before` hook for a route whose query/body models are `models` (by name): a
    failed validation becomes our 422 naming each field (app.http.api.validation); a request
    that passed validation then meets the route's permission rule (`allow`).

    The rejected values are not echoed: a misplaced secret must not travel back, or into logs.
    """

    def hook(_req: Any, _resp: Any, error: Exception | None, _instance: Any, _adapter: Any) -> None:
        if isinstance(error, ValidationError):
            raise validation_failed(models.get(error.title), error)
        if error is None and allow is not None:
            allow.check(identity())

    return hook


spec = SpecTree(
    "flask",
    title="Klaxon management API",
    version="1",
    description="Users, services, integration keys, heartbeat monitors, API keys and alerts.",
    mode="strict",  # the document lists exactly the routes declared through `endpoint`
    annotations=True,
    validation_error_status=422,
    validation_error_model=ErrorBody,
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
    security_schemes=[
        SecurityScheme(
            name=BEARER,
            data=SecuritySchemeData(
                type=SecureType.HTTP,
                scheme="bearer",
                description="An API key: `Authorization: Bearer klx_…`",
            ),
        ),
        SecurityScheme(
            name=SESSION,
            data=SecuritySchemeData(
                type=SecureType.API_KEY,
                name=COOKIE,
                field_in=InType.COOKIE,
                description="A sign-in session (POST /auth/login); requests that change state "
                "also send the session's CSRF token in `X-CSRF-Token`",
            ),
        ),
    ],
    security=[{BEARER: []}, {SESSION: []}],  # either one
)


@dataclass(frozen=True)
class Route:
    """What `endpoint` declared, for the OpenAPI document and the auth tests."""

    rule: str  # full path, e.g. /api/v1/users/<uuid:user_id>
    method: str
    scope: str | None  # None: public
    endpoint: str
    allow: permissions.Rule | None  # None: public


ROUTES: list[Route] = []


def endpoint(
    rule: str,
    method: str,
    scope: str | None,
    tag: str,
    allow: permissions.Rule | None = None,
    **responses: Any,
) -> Callable[[F], F]:
    """Declare an /api/v1 route: `scope` (read|write|admin, None = public), who may use it
    (`allow`, a rule of app.http.permissions; reads default to EVERYONE, a route that changes
    state must state one) and its responses.

    `responses` are spectree codes, e.g. `HTTP_200=User`; the error statuses this route can
    answer with are added from the route's shape. Query and body models come from the view's
    `query` and `json` parameter annotations.
    """
    if scope is not None and allow is None:
        if method != "GET":
            raise TypeError(f"{method} {rule}: state who may change this (allow=...)")
        allow = permissions.EVERYONE
    if allow is not None and not allow.fits(rule):
        raise TypeError(f"{method} {rule}: {allow!r} reads one of {sorted(allow.path_needs)}")

    def decorate(view: F) -> F:
        takes_body = "json" in view.__annotations__
        documented = Response(**_with_errors(rule, scope, takes_body, responses))
        validated = spec.validate(
            before=_before_view(_request_models(view), allow),
            resp=documented,
            tags=[tag],
            operation_id=view.__name__,
            security=[] if scope is None else None,  # [] marks the operation public
        )(view)
        checked = _json_body(validated) if takes_body else validated
        secured = require_scope(scope)(checked) if scope else checked
        api_blueprint.add_url_rule(rule, view.__name__, secured, methods=[method])
        ROUTES.append(Route(API_PREFIX + rule, method, scope, f"api.{view.__name__}", allow))
        return secured

    return decorate


def _request_models(view: Callable[..., Any]) -> dict[str, type[BaseModel]]:
    """The view's query and body models by class name (a ValidationError's `title`)."""
    hints = get_request_model_hints(view)  # as spectree resolves them: only these names
    models = [hints[name] for name in ("query", "json") if name in hints]
    return {model.__name__: model for model in models}


def _with_errors(
    rule: str, scope: str | None, takes_body: bool, responses: dict[str, Any]
) -> dict[str, Any]:
    errors = {"HTTP_422": ErrorBody, "HTTP_503": ErrorBody, "HTTP_400": ErrorBody}
    if scope is not None:
        errors |= {"HTTP_401": ErrorBody, "HTTP_403": ErrorBody}
    if "<" in rule:
        errors["HTTP_404"] = ErrorBody
    if takes_body:
        errors |= {"HTTP_409": ErrorBody, "HTTP_413": ErrorBody, "HTTP_415": ErrorBody}
    return errors | responses


def _json_body(view: F) -> F:
    """Refuse a body that is not JSON, malformed, too deep or not an object — before spectree.

    Its size is held to MAX_BODY by app.platform.body_limits (a 413, chunked bodies included).
    """

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if not request.is_json:
            raise UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`"
            )
        raw = request.get_data(cache=True)
        try:
            body = json_input.loads(raw or b"null")
        except json_input.TooDeep as exc:
            raise MalformedBody(
                f"the body is not acceptable: {exc}", {"max_depth": json_input.MAX_DEPTH}
            ) from None
        except ValueError:
            raise MalformedBody("the body is not well-formed JSON") from None
        if not isinstance(body, dict):
            raise MalformedBody("the body must be a JSON object")
        return view(*args, **kwargs)

    return checked  # type: ignore[return-value]


@api_blueprint.after_request
def _log_request(response: FlaskResponse) -> FlaskResponse:
    """One line per API request saying which key or user did what: the key's id (never the
    key), the user a session or personal key acts as, and the path without its query string."""
    api_key = g.get("api_key")
    identity = g.get("identity")
    log.info(
        "api_request",
        method=request.method,
        path=request.path,
        status=response.status_code,
        api_key_id=api_key.id if api_key else None,
        user_id=identity.user_id if identity is not None else None,
    )
    return response


@contextmanager
def transaction() -> Iterator[psycopg.Connection[Any]]:
    """A database transaction of this web process (503 when Postgres is unavailable). In a
    request that changes state, it first declares the request's actor, action and target for
    the audit log (app.http.api.audited), so its configuration changes write one audit row."""
    with current_app.extensions["klaxon"].db.transaction() as conn:
        declared = audited.declaration()
        if declared is not None:
            audit_context.declare(conn, declared)
        yield conn


def settings() -> Settings:
    settings: Settings = current_app.extensions["klaxon"].settings
    return settings


def actor() -> Actor:
    """Who is acting: the signed-in user, a personal key's user, or the (team or service) API
    key of this request (set by authentication)."""
    who: Actor = g.actor
    return who


# ---- database constraint violations: a 4xx naming the field, never a 500 ----------------------

# Which request field a unique index or check constraint is about.
CONSTRAINT_FIELDS = {
    "users_email_key": "email",
    "services_name_key": "name",
    "teams_name_key": "name",
}


def _constraint_field(exc: psycopg.Error) -> str | None:
    return CONSTRAINT_FIELDS.get(exc.diag.constraint_name or "")


@api_blueprint.errorhandler(psycopg.errors.UniqueViolation)
def _unique_violation(exc: psycopg.errors.UniqueViolation) -> Any:
    field = _constraint_field(exc)
    message = f"{field}: already taken" if field else "conflicts with an existing record"
    return _handled(Conflict(message, {"field": field} if field else {}))


@api_blueprint.errorhandler(psycopg.errors.ForeignKeyViolation)
def _foreign_key_violation(_exc: psycopg.errors.ForeignKeyViolation) -> Any:
    return _handled(NotFound("a record this request refers to does not exist (any more)"))


@api_blueprint.errorhandler(psycopg.errors.IntegrityError)
def _integrity_error(exc: psycopg.errors.IntegrityError) -> Any:
    # A last line of defence: the schemas should have refused such a value already.
    field = _constraint_field(exc)
    if field is not None:
        return _handled(invalid(field, "is out of range"))
    return _handled(ValidationFailed("invalid request: a value is out of range", {"errors": []}))


@api_blueprint.errorhandler(psycopg.errors.DataError)
def _data_error(_exc: psycopg.errors.DataError) -> Any:
    return _handled(ValidationFailed("invalid request: a value cannot be stored", {"errors": []}))


def database_refusal(exc: psycopg.Error) -> ApiError:
    """The 4xx the API answers a constraint violation with (the web app's pages use it too)."""
    if isinstance(exc, psycopg.errors.UniqueViolation):
        field = _constraint_field(exc)
        message = f"{field}: already taken" if field else "conflicts with an existing record"
        return Conflict(message, {"field": field} if field else {})
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        return NotFound("a record this request refers to does not exist (any more)")
    field = _constraint_field(exc)
    if field is not None:
        return invalid(field, "is out of range")
    return ValidationFailed("invalid request: a value cannot be stored", {"errors": []})


def _handled(error: ApiError) -> Any:
    return error_response(error.status, error.code, error.message, error.details)
