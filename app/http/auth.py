"""API-key authentication for /api/v1 and the admin pages: `Authorization: Bearer klx_…`.

Errors never echo the presented key, and never say whether a key id exists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

from app.alerts.store import Actor
from app.directory import api_keys
from app.platform import ratelimit
from app.platform.errors import ApiError, Forbidden, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authenticate(scope: str) -> api_keys.ApiKey:
    """The API key of this request, allowed `scope`; raises 401/403 otherwise."""
    token = bearer_token()
    if token is None:
        raise _refused("an API key is required: send `Authorization: Bearer <key>`")
    with current_app.extensions["klaxon"].db.transaction() as conn:
        api_key = api_keys.verify_api_key(conn, token)
    if api_key is None:
        raise _refused("the API key is invalid or revoked")
    if not api_keys.scope_allows(api_key.scope, scope):
        raise Forbidden(f"this API key has scope {api_key.scope!r}; {scope!r} is required")
    g.api_key = api_key
    g.actor = Actor("api_key", api_key.id)
    return api_key


def _refused(message: str) -> ApiError:
    """The 401 to raise, or a 429 once this client has failed too often (KLAXON_LIMIT_FAILED_AUTH).
    Only failures are counted: a valid key is never slowed or refused."""
    return ratelimit.failed_credentials("api") or Unauthorized(message)


def require_scope(scope: str) -> Callable[[F], F]:
    """Decorator: the view runs only for an API key with at least `scope`."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            authenticate(scope)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
