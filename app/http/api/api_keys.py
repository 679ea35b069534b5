"""/api/v1/api-keys: keys for this API (admin scope only).

The key is shown once, in the creation response; lists and reads never carry it. DELETE revokes
(the key stays listed with `revoked_at`); a revoked key is refused (401) from that commit on.
"""

from __future__ import annotations

from uuid import UUID

from app.directory import api_keys
from app.http.api import listing
from app.http.api.routing import NotFound, endpoint, transaction
from app.http.api.schemas.api_keys import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPage
from app.http.api.schemas.base import PageQuery
from app.http.permissions import KEY_CREATE, KEY_HOLDER

TAG = "api-keys"


@endpoint("/api-keys", "GET", "admin", TAG, HTTP_200=ApiKeyPage)
def list_api_keys(query: PageQuery) -> ApiKeyPage:
    """List API keys (revoked ones too), oldest first; never the keys themselves."""
    return listing.oldest_first(query, api_keys.list_api_keys, ApiKey.model_validate, ApiKeyPage)


@endpoint("/api-keys", "POST", "admin", TAG, HTTP_201=ApiKeyCreated, allow=KEY_CREATE)
def create_api_key(json: ApiKeyCreate) -> tuple[ApiKeyCreated, int]:
    """Create an API key; the response is the only time the key is shown."""
    with transaction() as conn:
        row = api_keys.create_api_key(conn, json.name, json.scope)
    return ApiKeyCreated.model_validate(row), 201


@endpoint("/api-keys/<uuid:key_id>", "GET", "admin", TAG, HTTP_200=ApiKey, allow=KEY_HOLDER)
def get_api_key(key_id: UUID) -> ApiKey:
    """Get one API key (without the key)."""
    with transaction() as conn:
        row = api_keys.get_api_key(conn, str(key_id))
    if row is None:
        raise NotFound(f"no API key with id {key_id}")
    return ApiKey.model_validate(row)


@endpoint("/api-keys/<uuid:key_id>", "DELETE", "admin", TAG, HTTP_204=None, allow=KEY_HOLDER)
def revoke_api_key(key_id: UUID) -> tuple[str, int]:
    """Revoke an API key: requests carrying it get 401 from now on."""
    with transaction() as conn:
        if not api_keys.revoke_api_key(conn, str(key_id)):
            raise NotFound(f"no API key with id {key_id}")
    return "", 204
