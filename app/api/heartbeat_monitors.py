"""/api/v1/services/<id>/heartbeat-monitors: alert when a check-in is overdue.

Each monitor carries its `checkin_url` (`<public_url>/api/v2/heartbeat/<id>`), which a job POSTs
to at least every `timeout_seconds`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app import directory
from app.api import pagination
from app.api.routing import NotFound, endpoint, settings, transaction
from app.api.schemas import (
    HeartbeatMonitor,
    HeartbeatMonitorCreate,
    HeartbeatMonitorPage,
    HeartbeatMonitorPatch,
    PageQuery,
)
from app.api.services import require_service

TAG = "heartbeat-monitors"
COLLECTION = "/services/<uuid:service_id>/heartbeat-monitors"
ITEM = COLLECTION + "/<uuid:monitor_id>"


def checkin_url(monitor_id: str) -> str:
    return f"{settings().public_url}/api/v2/heartbeat/{monitor_id}"


def _monitor(row: dict[str, Any]) -> HeartbeatMonitor:
    return HeartbeatMonitor.model_validate({**row, "checkin_url": checkin_url(row["id"])})


def _missing(service_id: UUID, monitor_id: UUID) -> NotFound:
    return NotFound(f"service {service_id} has no heartbeat monitor {monitor_id}")


@endpoint(COLLECTION, "GET", "read", TAG, HTTP_200=HeartbeatMonitorPage)
def list_heartbeat_monitors(service_id: UUID, query: PageQuery) -> HeartbeatMonitorPage:
    """List a service's heartbeat monitors, oldest first."""
    after = pagination.decode_time_cursor(query.cursor)
    with transaction() as conn:
        require_service(conn, service_id)
        rows = directory.list_heartbeat_monitors(conn, str(service_id), after, query.limit + 1)
    items, next_cursor = pagination.page(rows, query.limit, pagination.time_cursor, _monitor)
    return HeartbeatMonitorPage(items=items, next_cursor=next_cursor)


@endpoint(COLLECTION, "POST", "write", TAG, HTTP_201=HeartbeatMonitor)
def create_heartbeat_monitor(
    service_id: UUID, json: HeartbeatMonitorCreate
) -> tuple[HeartbeatMonitor, int]:
    """Create a heartbeat monitor; it stays `inactive` until its first check-in."""
    with transaction() as conn:
        require_service(conn, service_id)
        row = directory.create_heartbeat_monitor(
            conn, str(service_id), json.name, json.timeout_seconds
        )
    return _monitor(row), 201


@endpoint(ITEM, "GET", "read", TAG, HTTP_200=HeartbeatMonitor)
def get_heartbeat_monitor(service_id: UUID, monitor_id: UUID) -> HeartbeatMonitor:
    """Get one heartbeat monitor."""
    with transaction() as conn:
        row = directory.get_heartbeat_monitor(conn, str(service_id), str(monitor_id))
    if row is None:
        raise _missing(service_id, monitor_id)
    return _monitor(row)


@endpoint(ITEM, "PATCH", "write", TAG, HTTP_200=HeartbeatMonitor)
def update_heartbeat_monitor(
    service_id: UUID, monitor_id: UUID, json: HeartbeatMonitorPatch
) -> HeartbeatMonitor:
    """Rename a heartbeat monitor or change its timeout."""
    with transaction() as conn:
        row = directory.update_heartbeat_monitor(
            conn, str(service_id), str(monitor_id), json.changes()
        )
    if row is None:
        raise _missing(service_id, monitor_id)
    return _monitor(row)


@endpoint(ITEM, "DELETE", "write", TAG, HTTP_204=None)
def delete_heartbeat_monitor(service_id: UUID, monitor_id: UUID) -> tuple[str, int]:
    """Delete a heartbeat monitor."""
    with transaction() as conn:
        if not directory.delete_heartbeat_monitor(conn, str(service_id), str(monitor_id)):
            raise _missing(service_id, monitor_id)
    return "", 204
