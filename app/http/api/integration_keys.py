"""/api/v1/services/<id>/integration-keys: the tokens senders raise alerts with.

The token is shown once, in the creation response, inside a ready-to-use ingest `url`. DELETE
revokes the key (it stays listed, with `revoked_at`): its token stops working at that commit.
"""

from __future__ import annotations

from uuid import UUID

from app.directory import integration_keys
from app.http.api import listing
from app.http.api.routing import NotFound, endpoint, settings, transaction
from app.http.api.schemas.base import PageQuery
from app.http.api.schemas.integration_keys import (
    IntegrationKey,
    IntegrationKeyCreate,
    IntegrationKeyCreated,
    IntegrationKeyPage,
)
from app.http.api.services import require_service
from app.http.permissions import TEAM

TAG = "integration-keys"
COLLECTION = "/services/<uuid:service_id>/integration-keys"
ITEM = COLLECTION + "/<uuid:key_id>"


@endpoint(COLLECTION, "GET", "read", TAG, HTTP_200=IntegrationKeyPage)
def list_integration_keys(service_id: UUID, query: PageQuery) -> IntegrationKeyPage:
    """List a service's integration keys (revoked ones too), oldest first; never their tokens."""
    return listing.oldest_first(
        query,
        lambda conn, after, limit: integration_keys.list_integration_keys(
            conn, str(service_id), after, limit
        ),
        IntegrationKey.model_validate,
        IntegrationKeyPage,
        parent=lambda conn: require_service(conn, service_id),
    )


@endpoint(COLLECTION, "POST", "write", TAG, HTTP_201=IntegrationKeyCreated, allow=TEAM)
def create_integration_key(
    service_id: UUID, json: IntegrationKeyCreate
) -> tuple[IntegrationKeyCreated, int]:
    """Create an integration key; the response is the only time its token is shown."""
    with transaction() as conn:
        require_service(conn, service_id)
        row = integration_keys.create_integration_key(conn, str(service_id), json.type, json.name)
    url = integration_keys.integration_url(settings().public_url, json.type, row["token"])
    return IntegrationKeyCreated.model_validate({**row, "url": url}), 201


@endpoint(ITEM, "GET", "read", TAG, HTTP_200=IntegrationKey)
def get_integration_key(service_id: UUID, key_id: UUID) -> IntegrationKey:
    """Get one integration key (without its token)."""
    with transaction() as conn:
        row = integration_keys.get_integration_key(conn, str(service_id), str(key_id))
    if row is None:
        raise NotFound(f"service {service_id} has no integration key {key_id}")
    return IntegrationKey.model_validate(row)


@endpoint(ITEM, "DELETE", "write", TAG, HTTP_204=None, allow=TEAM)
def revoke_integration_key(service_id: UUID, key_id: UUID) -> tuple[str, int]:
    """Revoke an integration key: senders using its token get 401 from now on."""
    with transaction() as conn:
        if not integration_keys.revoke_integration_key(conn, str(service_id), str(key_id)):
            raise NotFound(f"service {service_id} has no integration key {key_id}")
    return "", 204
