"""/api/v1/services: what alerts are raised against, and bulk actions on their alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
import structlog

from app.alerts import store
from app.directory import services
from app.escalation import policies
from app.http.api import listing
from app.http.api.routing import NotFound, actor, endpoint, transaction
from app.http.api.schemas.alerts import BulkResult
from app.http.api.schemas.base import PageQuery
from app.http.api.schemas.services import Service, ServiceCreate, ServicePage, ServicePatch
from app.http.permissions import EVERYONE, TEAM, TEAM_CREATE, TEAM_MOVE
from app.platform.errors import invalid

TAG = "services"
log = structlog.get_logger(__name__)
ALERTS = "/services/<uuid:service_id>/alerts"  # bulk actions on a service's open alerts


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def require_service(conn: psycopg.Connection[Any], service_id: UUID) -> dict[str, Any]:
    """The service, or a 404 naming the id."""
    row = services.get_service(conn, str(service_id))
    if row is None:
        raise NotFound(f"no service with id {service_id}")
    return row


def _apply_policy(
    conn: psycopg.Connection[Any], service_id: str, old: str | None, new: UUID | None
) -> None:
    """Check a new escalation policy exists (422 naming the field); when the service gets one
    or changes it, its never-escalated triggered alerts become due at once."""
    if new is None:
        return
    if not policies.lock_policy(conn, str(new)):
        raise invalid("escalation_policy_id", f"no escalation policy with id {new}")
    if str(new) != old:
        restarted = policies.restart_waiting_alerts(conn, service_id)
        log.info("service_escalation_policy_set", service_id=service_id,
                 escalation_policy_id=str(new), alerts_made_due=restarted)  # fmt: skip


@endpoint("/services", "GET", "read", TAG, HTTP_200=ServicePage)
def list_services(query: PageQuery) -> ServicePage:
    """List services, oldest first."""
    return listing.oldest_first(query, services.list_services, Service.model_validate, ServicePage)


@endpoint("/services", "POST", "write", TAG, HTTP_201=Service, allow=TEAM_CREATE)
def create_service(json: ServiceCreate) -> tuple[Service, int]:
    """Create a service; its name must be unique (case-insensitively)."""
    with transaction() as conn:
        row = services.create_service(conn, json.name, json.description, _text(json.team_id))
        _apply_policy(conn, row["id"], None, json.escalation_policy_id)
        changes = json.model_dump(include={"maintenance_until", "escalation_policy_id"})
        changes = {key: value for key, value in changes.items() if value is not None}
        if changes:
            row = services.update_service(conn, row["id"], changes) or row
    return Service.model_validate(row), 201


@endpoint("/services/<uuid:service_id>", "GET", "read", TAG, HTTP_200=Service)
def get_service(service_id: UUID) -> Service:
    """Get one service."""
    with transaction() as conn:
        return Service.model_validate(require_service(conn, service_id))


@endpoint("/services/<uuid:service_id>", "PATCH", "write", TAG, HTTP_200=Service, allow=TEAM_MOVE)
def update_service(service_id: UUID, json: ServicePatch) -> Service:
    """Change a service's name, description, maintenance window (null ends it) or escalation
    policy (null: none). Setting or changing the policy makes its triggered alerts that never
    fired a step due at once; changing the window makes the alerts it holds due at once (the
    engine holds them again if the window is still open)."""
    changes = json.changes()
    with transaction() as conn:
        if "escalation_policy_id" in changes:
            current = services.get_service(conn, str(service_id), lock=True)
            if current is None:
                raise NotFound(f"no service with id {service_id}")
            new = changes["escalation_policy_id"]
            _apply_policy(conn, str(service_id), current["escalation_policy_id"], new)
        row = services.update_service(conn, str(service_id), changes)
        if row is not None and "maintenance_until" in changes:
            _release_held(conn, row)
    if row is None:
        raise NotFound(f"no service with id {service_id}")
    return Service.model_validate(row)


@endpoint("/services/<uuid:service_id>", "DELETE", "write", TAG, HTTP_204=None, allow=TEAM)
def delete_service(service_id: UUID) -> tuple[str, int]:
    """Delete a service with its integration keys, heartbeat monitors and alerts."""
    with transaction() as conn:
        if not services.delete_service(conn, str(service_id)):
            raise NotFound(f"no service with id {service_id}")
    return "", 204


def _bulk(service_id: UUID, to: str) -> BulkResult:
    with transaction() as conn:
        require_service(conn, service_id)
        changed = store.set_status_for_service(conn, str(service_id), to, actor())
    return BulkResult.model_validate(
        {"service_id": str(service_id), "status": to, "alert_ids": changed}
    )


def _release_held(conn: psycopg.Connection[Any], row: dict[str, Any]) -> None:
    released = policies.release_held_alerts(conn, row["id"])
    log.info("service_maintenance_changed", service_id=row["id"],
             maintenance_until=row["maintenance_until"], held_alerts=released)  # fmt: skip


def set_maintenance(
    conn: psycopg.Connection[Any], service_id: str, until: datetime | None
) -> dict[str, Any]:
    """Start (until a moment) or end (None) a service's maintenance window, as PATCH
    `maintenance_until` does: the alerts it held become due at once; 404 if the service is gone."""
    row = services.update_service(conn, service_id, {"maintenance_until": until})
    if row is None:
        raise NotFound(f"no service with id {service_id}")
    _release_held(conn, row)
    return row


@endpoint(ALERTS + "/acknowledge", "POST", "write", TAG, HTTP_200=BulkResult, allow=EVERYONE)
def acknowledge_service_alerts(service_id: UUID) -> BulkResult:
    """Acknowledge every triggered alert of the service."""
    return _bulk(service_id, "acknowledged")


@endpoint(ALERTS + "/close", "POST", "write", TAG, HTTP_200=BulkResult, allow=EVERYONE)
def close_service_alerts(service_id: UUID) -> BulkResult:
    """Close every open (triggered or acknowledged) alert of the service."""
    return _bulk(service_id, "closed")
