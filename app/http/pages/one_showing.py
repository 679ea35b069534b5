"""A secret shown exactly once across a redirect (a new integration key, a new service API key).

The POST that makes the secret keeps what the page will show in Redis for SHOWING_TTL under a
random nonce bound to the user (before its transaction commits: if Redis cannot keep it, the
transaction rolls back and nothing exists that nobody ever saw) and redirects to a page whose
URL carries the nonce; that page takes it out (GETDEL), so a reload, another user or a later
visit sees it no more, and a reload never repeats the POST.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import current_app
from redis.exceptions import RedisError

from app.platform.errors import ApiError

SHOWING_TTL = 300  # seconds a new secret waits in Redis for its one showing
PREFIX = "klaxon:web:new-"  # + what (e.g. integration-key) + ":<user id>:<nonce>"
MAX_NONCE = 64  # characters a nonce from a URL may have


class ShowingUnavailable(ApiError):
    """Redis, which holds a new secret for its one showing, cannot be reached (503, the JSON
    envelope: a page cannot help)."""

    status = 503
    code = "unavailable"


def _redis() -> Any:
    return current_app.extensions["klaxon"].jobs_redis()


def _name(what: str, user_id: str, nonce: str) -> str:
    return f"{PREFIX}{what}:{user_id}:{nonce}"


def _unavailable(what: str, exc: RedisError) -> ShowingUnavailable:
    noun = what.replace("-", " ")
    return ShowingUnavailable(
        f"Redis is unreachable ({type(exc).__name__}): a new {noun} cannot be shown, "
        "so none was created; try again when Redis is back"
    )


def keep(what: str, user_id: str, shown: dict[str, Any]) -> str:
    """Keep `shown` for `user_id`'s one showing; the nonce the page's URL carries. Call inside
    the transaction that makes the secret (ShowingUnavailable rolls it back)."""
    nonce = secrets.token_urlsafe(18)
    try:
        _redis().set(_name(what, user_id, nonce), json.dumps(shown), ex=SHOWING_TTL)
    except RedisError as exc:
        raise _unavailable(what, exc) from exc
    return nonce


def take(what: str, user_id: str, nonce: str) -> dict[str, Any] | None:
    """What `keep` kept under `nonce` for this user, once (then it is gone); None for a nonce
    that is not one, already taken, expired or someone else's."""
    if not nonce or len(nonce) > MAX_NONCE or not nonce.replace("-", "").replace("_", "").isalnum():
        return None
    try:
        raw = _redis().getdel(_name(what, user_id, nonce))
    except RedisError as exc:
        raise _unavailable(what, exc) from exc
    if raw is None:
        return None
    found: dict[str, Any] = json.loads(raw)
    return found
