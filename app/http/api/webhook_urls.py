"""The outbound policy applied when a webhook URL is saved (contact methods and channels).

The worker vets the URL again at every send, against the address it actually connects to; this
check exists so a user learns at once, with the rule named, instead of from a failed page.
"""

from __future__ import annotations

import structlog
from flask import current_app

from app.http.api.delivery_schemas import invalid
from app.platform.outbound.policy import Policy, Refused
from app.platform.outbound.target import Resolver, Unresolvable, vet_url

log = structlog.get_logger(__name__)

RESOLVE_TIMEOUT = 3.0  # seconds a save waits for DNS: a person is waiting on the answer
HINT = "refused by policy (set KLAXON_WEBHOOK_ALLOW_CIDRS to allow internal receivers)"


def check_webhook_url(url: str, field: str = "address") -> None:
    """Raise a 422 naming `field` unless every address `url`'s host resolves to may be reached.
    A host that does not resolve (or not within RESOLVE_TIMEOUT) is refused too: what cannot be
    vetted cannot be saved."""
    runtime = current_app.extensions["klaxon"]
    resolver: Resolver = runtime.resolver
    policy = Policy(runtime.settings.delivery.webhook_allow)
    try:
        vet_url(url, policy, resolver, RESOLVE_TIMEOUT)
    except Refused as exc:
        log.info("webhook_url_refused", address=str(exc.address), rule=exc.rule)
        raise invalid(field, f"{exc}; {HINT}") from None
    except Unresolvable as exc:
        raise invalid(field, f"{exc}; a webhook URL's host must resolve when it is saved") from None
