"""The provider interface every notification channel implements.

A provider turns one `Delivery` (everything needed to send one message, already rendered from
Postgres by the delivery job) into one call to the outside world, within a deadline. It either
returns `Sent`, or raises `DeliveryError` saying whether trying again could help.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

KINDS = ("alert", "status_update", "verification", "test", "oncall_notice", "shift_swap")


class DeliveryError(Exception):
    """A send failed. `permanent` failures are not retried (a 4xx, a bad address); transient
    ones are, with backoff, up to the attempt limit. `retry_after` (seconds) is the provider's
    own hint (HTTP 429 Retry-After), when it gave one."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class ProviderCheckFailed(Exception):
    """A provider's preflight check failed; the message says what and where (no secrets)."""


@dataclass(frozen=True)
class AlertView:
    """The alert a message is about, as the recipient should see it."""

    id: int
    summary: str
    details: str
    status: str  # triggered | acknowledged | closed
    service_id: str
    service_name: str
    created_at: datetime


@dataclass(frozen=True)
class Links:
    """Signed action links for one recipient and alert (GET confirms, POST acts)."""

    acknowledge: str
    close: str


@dataclass(frozen=True)
class Delivery:
    """One message, ready to send."""

    message_id: int  # stable across retries: receivers dedupe on it
    kind: str  # one of KINDS
    dest_type: str  # email | sms | voice | webhook | slack
    address: str  # email address, E.164 number, URL, Slack member or channel id
    subject: str  # one line, e.g. "[Klaxon] Alert #12: disk full on db-1"
    text: str  # the plain-text body, complete on its own
    attempt: int = 1
    signing_secret: str | None = field(default=None, repr=False)  # webhook HMAC key
    alert: AlertView | None = None
    status: str | None = None  # status updates: acknowledged | closed
    code: str | None = field(default=None, repr=False)  # verification code
    links: Links | None = None
    reply_code: int | None = None  # SMS: reply "<code>a" to acknowledge, "<code>c" to close
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. on-call notice users


@dataclass(frozen=True)
class Sent:
    """A provider accepted the message. `delivered` when acceptance is delivery (a webhook
    receiver's 2xx); otherwise it is `sent` and a later receipt may confirm delivery."""

    provider_message_id: str | None = None
    delivered: bool = False


class Provider(Protocol):
    name: str  # webhook | smtp | twilio | slack

    def send(self, delivery: Delivery, timeout: float) -> Sent:
        """Send within `timeout` seconds in total, or raise DeliveryError."""
        ...

    def check(self, timeout: float) -> None:
        """Preflight: prove the configured credentials work, or raise ProviderCheckFailed."""
        ...
