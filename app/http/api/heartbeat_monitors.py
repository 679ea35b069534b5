"""/api/v1/services/<id>/heartbeat-monitors: alert when a check-in is overdue.

A job POSTs to the monitor's `checkin_url` (`<public_url>/api/v2/heartbeat/<secret>`) at least
every `timeout_seconds`. The secret is not the id: it is shown once, when the monitor is created
or its secret rotated (like an integration key's token), so a read key cannot check in.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.directory import heartbeat_monitors
from app.http.api import listing
from app.http.api.routing import NotFound, endpoint, settings, transaction
from app.http.api.schemas.base import PageQuery
from app.http.api.schemas.heartbeat_monitors import (
    HeartbeatMonitor,
    HeartbeatMonitorCreate,
    HeartbeatMonitorCreated,
    HeartbeatMonitorPage,
    HeartbeatMonitorPatch,
)
from app.http.api.services import require_service
from app.http.permissions import TEAM

TAG = "heartbeat-monitors"
COLLECTION = "/services/<uuid:service_id>/heartbeat-monitors"
ITEM = COLLECTION + "/<uuid:monitor_id>"


def checkin_url(secret: str) -> str:
    return f"{settings().public_url}/api/v2/heartbeat/{secret}"


def _monitor(row: dict[str, Any]) -> HeartbeatMonitor:
    return HeartbeatMonitor.model_validate(row)


def _with_secret(row: dict[str, Any]) -> HeartbeatMonitorCreated:
    return HeartbeatMonitorCreated.model_validate(
        {**row, "checkin_url": checkin_url(row["checkin_secret"])}
    )


def _missing(service_id: UUID, monitor_id: UUID) -> NotFound:
    return NotFound(f"service {service_id} has no heartbeat monitor {monitor_id}")


@endpoint(COLLECTION, "GET", "read", TAG, HTTP_200=HeartbeatMonitorPage)
def list_heartbeat_monitors(service_id: UUID, query: PageQuery) -> HeartbeatMonitorPage:
    """List a service's heartbeat monitors, oldest first."""
    return listing.oldest_first(
        query,
        lambda conn, after, limit: heartbeat_monitors.list_heartbeat_monitors(
            conn, str(service_id), after, limit
        ),
        _monitor,
        HeartbeatMonitorPage,
        parent=lambda conn: require_service(conn, service_id),
    )


@endpoint(COLLECTION, "POST", "write", TAG, HTTP_201=HeartbeatMonitorCreated, allow=TEAM)
def create_heartbeat_monitor(
    service_id: UUID, json: HeartbeatMonitorCreate
) -> tuple[HeartbeatMonitorCreated, int]:
    """Create a heartbeat monitor; it stays `inactive` until its first check-in. The response
    carries the check-in secret and URL, shown only here."""
    with transaction() as conn:
        require_service(conn, service_id)
        row = heartbeat_monitors.create_heartbeat_monitor(
            conn, str(service_id), json.name, json.timeout_seconds
        )
    return _with_secret(row), 201


@endpoint(
    ITEM + "/rotate-secret", "POST", "write", TAG, HTTP_200=HeartbeatMonitorCreated, allow=TEAM
)
def rotate_heartbeat_secret(service_id: UUID, monitor_id: UUID) -> HeartbeatMonitorCreated:
    """Give the monitor a new check-in secret (shown only here); the old one stops working."""
    with transaction() as conn:
        row = heartbeat_monitors.rotate_heartbeat_secret(conn, str(service_id), str(monitor_id))
    if row is None:
        raise _missing(service_id, monitor_id)
    return _with_secret(row)


@endpoint(ITEM, "GET", "read", TAG, HTTP_200=HeartbeatMonitor)
def get_heartbeat_monitor(service_id: UUID, monitor_id: UUID) -> HeartbeatMonitor:
    """Get one heartbeat monitor."""
    with transaction() as conn:
        row = heartbeat_monitors.get_heartbeat_monitor(conn, str(service_id), str(monitor_id))
    if row is None:
        raise _missing(service_id, monitor_id)
    return _monitor(row)


@endpoint(ITEM, "PATCH", "write", TAG, HTTP_200=HeartbeatMonitor, allow=TEAM)
def update_heartbeat_monitor(
    service_id: UUID, monitor_id: UUID, json: HeartbeatMonitorPatch
) -> HeartbeatMonitor:
    """Rename a heartbeat monitor or change its timeout."""
    with transaction() as conn:
        row = heartbeat_monitors.update_heartbeat_monitor(
            conn, str(service_id), str(monitor_id), json.changes()
        )
    if row is None:
        raise _missing(service_id, monitor_id)
    return _monitor(row)


@endpoint(ITEM, "DELETE", "write", TAG, HTTP_204=None, allow=TEAM)
def delete_heartbeat_monitor(service_id: UUID, monitor_id: UUID) -> tuple[str, int]:
    """Delete a heartbeat monitor."""
    with transaction() as conn:
        if not heartbeat_monitors.delete_heartbeat_monitor(conn, str(service_id), str(monitor_id)):
            raise _missing(service_id, monitor_id)
    return "", 204
