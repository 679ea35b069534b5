"""What the audit log records of an /api/v1 request: its actor, its action (the route's
operation name, e.g. `update_service`) and its target (the resource its URL names, or the row a
create inserts). `routing.transaction()` declares it on every transaction of a request that is
not a GET, and the database's audit triggers fold the transaction's changes into one
audit_events row as it commits (docs/architecture.md, Audit log).
"""

from __future__ import annotations

import itertools
import re

from flask import g, request

from app.audit.context import Declared

# Routes that change state but not configuration, and so write no audit row. Each says where
# the change is recorded instead. A route listed here declares nothing (no extra round trip).
NOT_AUDITED = {
    "acknowledge_alert": "an alert's status: the alert's log records who",
    "close_alert": "an alert's status: the alert's log records who",
    "escalate_alert": "an alert's escalation: the alert's log records who",
    "acknowledge_service_alerts": "alerts' status: each alert's log records who",
    "close_service_alerts": "alerts' status: each alert's log records who",
    "test_notification_channel": "a test message: the outbox (GET /messages/<id>)",
    "test_contact_method": "a test message: the outbox (GET /messages/<id>)",
    "send_verification": "a verification code and its message: the outbox",
}

# The table behind each URL collection segment: a target is `<table>/<id>`. A membership
# (/teams/<t>/members/<u>) has no single id of its own, so its team is the target.
COLLECTION_TABLES = {
    "users": "users",
    "teams": "teams",
    "api-keys": "api_keys",
    "services": "services",
    "integration-keys": "integration_keys",
    "heartbeat-monitors": "heartbeat_monitors",
    "escalation-policies": "escalation_policies",
    "schedules": "schedules",
    "rules": "schedule_rules",
    "overrides": "schedule_overrides",
    "temporary-schedules": "temporary_schedules",
    "swaps": "shift_swaps",
    "rotations": "rotations",
    "contact-methods": "contact_methods",
    "notification-rules": "notification_rules",
    "notification-channels": "notification_channels",
    "calendar-subscriptions": "calendar_subscriptions",
    "sessions": "sessions",
    "invitations": "signin_links",
}

_VARIABLE = re.compile(r"<(?:[^:>]+:)?(\w+)>")


def declaration() -> Declared | None:
    """This request's declaration, or None for a GET or a route in NOT_AUDITED."""
    action = (request.endpoint or "").rpartition(".")[2]
    if request.method in ("GET", "HEAD", "OPTIONS") or action in NOT_AUDITED:
        return None
    actor = g.get("actor")
    actor_type = actor.type if actor is not None else "system"
    actor_id = actor.id if actor is not None else "klaxon-web"
    target_type, target_id = url_target()
    creates = action.startswith("create_")
    created_type = collection_table() if creates else None
    return Declared(actor_type, actor_id, action, target_type, target_id, creates, created_type)


def collection_table() -> str | None:
    """The table of the URL's last collection (/services/<s>/integration-keys ->
    integration_keys): what a POST to it creates."""
    rule = request.url_rule.rule if request.url_rule is not None else ""
    collections = [s for s in rule.strip("/").split("/") if s in COLLECTION_TABLES]
    return COLLECTION_TABLES[collections[-1]] if collections else None


def url_target() -> tuple[str | None, str | None]:
    """The last resource the URL names, e.g. /users/<u>/contact-methods/<cm>/verify ->
    (contact_methods, cm); (None, None) when it names none this module knows."""
    rule = request.url_rule.rule if request.url_rule is not None else ""
    segments = rule.strip("/").split("/")
    for collection, segment in reversed(list(itertools.pairwise(segments))):
        variable = _VARIABLE.fullmatch(segment)
        if variable and collection in COLLECTION_TABLES:
            value = (request.view_args or {}).get(variable.group(1))
            return COLLECTION_TABLES[collection], None if value is None else str(value)
    return None, None
