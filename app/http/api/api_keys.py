"""/api/v1/api-keys: keys for this API, each a personal key, a team key or a service key.

The key is shown once, in the creation response; lists and reads never carry it. DELETE revokes
(the key stays listed with `revoked_at`); a revoked key is refused (401) from that commit on.
Who may make, see and revoke which key: app.http.permissions (KEY_CREATE, KEY_HOLDER); a list
shows an admin acting with admin scope every key, anyone else their own and their teams' keys.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from app.directory import api_keys
from app.http.api import listing
from app.http.api.routing import NotFound, endpoint, transaction
from app.http.api.schemas.api_keys import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPage
from app.http.api.schemas.base import PageQuery
from app.http.auth import identity
from app.http.permissions import KEY_CREATE, KEY_HOLDER, full_admin, managed_teams

TAG = "api-keys"
Conn = psycopg.Connection[Any]


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


@endpoint("/api-keys", "GET", "read", TAG, HTTP_200=ApiKeyPage)
def list_api_keys(query: PageQuery) -> ApiKeyPage:
    """List the API keys you may see (revoked ones too), oldest first; never the keys
    themselves. Admins see every key; others their personal keys and their managed teams'."""
    who = identity()
    visible = None if full_admin(who) else (who.user_id, managed_teams(who))

    def fetch(conn: Conn, after: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        return api_keys.list_api_keys(conn, after, limit, visible)

    return listing.oldest_first(query, fetch, ApiKey.model_validate, ApiKeyPage)


@endpoint("/api-keys", "POST", "write", TAG, HTTP_201=ApiKeyCreated, allow=KEY_CREATE)
def create_api_key(json: ApiKeyCreate) -> tuple[ApiKeyCreated, int]:
    """Create an API key; the response is the only time the key is shown."""
    with transaction() as conn:
        row = api_keys.create_api_key(
            conn, json.name, json.scope, _text(json.owner_user_id), _text(json.owner_team_id)
        )
    return ApiKeyCreated.model_validate(row), 201


@endpoint("/api-keys/<uuid:key_id>", "GET", "read", TAG, HTTP_200=ApiKey, allow=KEY_HOLDER)
def get_api_key(key_id: UUID) -> ApiKey:
    """Get one API key (without the key)."""
    with transaction() as conn:
        row = api_keys.get_api_key(conn, str(key_id))
    if row is None:
        raise NotFound(f"no API key with id {key_id}")
    return ApiKey.model_validate(row)


@endpoint("/api-keys/<uuid:key_id>", "DELETE", "write", TAG, HTTP_204=None, allow=KEY_HOLDER)
def revoke_api_key(key_id: UUID) -> tuple[str, int]:
    """Revoke an API key: requests carrying it get 401 from now on."""
    with transaction() as conn:
        if not api_keys.revoke_api_key(conn, str(key_id)):
            raise NotFound(f"no API key with id {key_id}")
    return "", 204
