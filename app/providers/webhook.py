"""Webhook provider: a signed JSON POST to the contact method's or channel's URL.

Receivers verify `X-Klaxon-Signature: sha256=<hex>`, the HMAC-SHA256 of
`"<X-Klaxon-Timestamp>.<raw body>"` keyed with the destination's signing secret, and dedupe on
`X-Klaxon-Message-Id`, which is the same on every retry of one message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import structlog

from app.providers import http
from app.providers.base import Delivery, DeliveryError, Sent

log = structlog.get_logger(__name__)


def payload(delivery: Delivery, sent_at: datetime) -> dict[str, Any]:
    """The JSON document a receiver gets (documented in the README; keep it additive). Every id
    is a string, as in the REST API: alert and message ids are bigints, past JavaScript's 2**53."""
    alert = delivery.alert
    return {
        "message_id": str(delivery.message_id),
        "kind": delivery.kind,
        "attempt": delivery.attempt,
        "subject": delivery.subject,
        "text": delivery.text,
        "alert": None
        if alert is None
        else {
            "id": str(alert.id),
            "summary": alert.summary,
            "details": alert.details,
            "status": alert.status,
            "service_id": alert.service_id,
            "service_name": alert.service_name,
            "created_at": alert.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        },
        "status": delivery.status,
        "code": delivery.code,
        "links": None
        if delivery.links is None
        else {"acknowledge": delivery.links.acknowledge, "close": delivery.links.close},
        "extra": dict(delivery.extra),
        "sent_at": sent_at.isoformat().replace("+00:00", "Z"),
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Klaxon-Signature value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class WebhookProvider:
    """Stateless apart from the per-process connection pool (app.providers.http). Every
    send is vetted by `guard`: webhook URLs are user input."""

    name = "webhook"

    def __init__(self, guard: http.Guard) -> None:
        self.guard = guard

    def send(self, delivery: Delivery, timeout: float) -> Sent:
        now = time.time()
        body = json.dumps(
            payload(delivery, datetime.fromtimestamp(now, UTC)), separators=(",", ":")
        ).encode()
        timestamp = str(int(now))
        headers = {
            "Content-Type": "application/json",
            "X-Klaxon-Message-Id": str(delivery.message_id),
            "X-Klaxon-Timestamp": timestamp,
        }
        if delivery.signing_secret:
            headers["X-Klaxon-Signature"] = sign(delivery.signing_secret, timestamp, body)
        response = http.request(
            "POST", delivery.address, timeout=timeout, body=body, headers=headers, guard=self.guard
        )
        status = response.status
        if 200 <= status < 300:
            return Sent(delivered=True)
        where = http.where(delivery.address)
        if http.is_transient_status(status):
            raise DeliveryError(
                f"webhook receiver {where} answered {status}",
                permanent=False,
                retry_after=http.retry_after(response.headers),
            )
        if 300 <= status < 400:
            raise DeliveryError(
                f"webhook receiver {where} answered {status} (a redirect; Klaxon does not follow "
                "them — configure the final URL)",
                permanent=True,
            )
        raise DeliveryError(f"webhook receiver {where} answered {status}", permanent=True)

    def check(self, timeout: float) -> None:
        """Webhooks have no credentials: nothing to check."""
