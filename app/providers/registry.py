"""The providers this process can send through: webhook always, the others when configured."""

from __future__ import annotations

from app.platform.outbound.policy import Policy
from app.providers.base import Provider
from app.providers.http import Guard
from app.providers.webhook import WebhookProvider
from config.settings import Settings


def build_providers(settings: Settings) -> dict[str, Provider]:
    """Providers by name ("webhook", "smtp", "twilio", "slack"), only those configured."""
    guard = Guard(Policy(settings.delivery.webhook_allow))
    providers: dict[str, Provider] = {"webhook": WebhookProvider(guard)}
    delivery = settings.delivery
    # Imported only when configured: a webhook-only deployment never loads smtplib & co.
    if delivery.smtp is not None:
        from app.providers.smtp import SmtpProvider

        providers["smtp"] = SmtpProvider(delivery.smtp, settings.public_url)
    if delivery.twilio is not None:
        from app.providers.twilio import TwilioProvider

        providers["twilio"] = TwilioProvider(delivery.twilio, settings.public_url)
    if delivery.slack is not None:
        from app.providers.slack import SlackProvider

        providers["slack"] = SlackProvider(delivery.slack)
    return providers
