"""/api/v1/audit: the audit log of configuration changes, newest first (admin scope)."""

from __future__ import annotations

from app.audit import events
from app.http.api import pagination
from app.http.api.routing import endpoint, transaction
from app.http.api.schemas.audit import AuditEvent, AuditPage, AuditQuery
from app.http.permissions import ADMINS

TAG = "audit"


@endpoint("/audit", "GET", "admin", TAG, HTTP_200=AuditPage, allow=ADMINS)
def list_audit_events(query: AuditQuery) -> AuditPage:
    """List audit events, newest first, filtered by actor, target and time. Each is one
    transaction's changes to configuration, with secrets left out."""
    return audit_page(query)


def audit_page(query: AuditQuery) -> AuditPage:
    """One page of the audit log for `query` (the API's and the admin page's)."""
    where = events.EventFilter(
        limit=query.limit + 1,
        actor_type=query.actor_type,
        actor_id=query.actor_id,
        target_type=query.target_type,
        target_id=query.target_id,
        since=query.since,
        until=query.until,
        before_id=pagination.decode_id_cursor(query.cursor),
    )
    with transaction() as conn:
        rows = events.list_events(conn, where)
    items, next_cursor = pagination.page(
        rows, query.limit, pagination.id_cursor, AuditEvent.model_validate
    )
    return AuditPage(items=items, next_cursor=next_cursor)
