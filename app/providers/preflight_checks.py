"""Process-specific preflight checks, on top of the core ones (docs/architecture.md, Startup).

The worker proves each *configured* notification provider that has credentials (SMTP login,
Twilio account, Slack auth.test) before it takes a job: a wrong password is then a fatal init
error that `/healthz` shows, not a queue of failing pages. Webhooks have nothing to prove.
"""

from __future__ import annotations

from collections.abc import Callable

from app.platform.preflight import Check, CheckFailed
from app.providers.base import ProviderCheckFailed
from config.settings import Settings

# Providers whose credentials a worker checks before it starts, and the settings they use.
CHECKED_PROVIDERS = {
    "smtp": "SMTP_URL",
    "twilio": "TWILIO_API_URL / TWILIO_ACCOUNT_SID",
    "slack": "SLACK_API_URL / SLACK_BOT_TOKEN",
}
# Seconds (at most a quarter of the check timeout) by which a provider check gives up before
# the preflight's own deadline, so the provider's message (naming the server and what it
# said) wins the race against the generic "no answer" of run_bounded.
VERDICT_MARGIN = 0.5


def checks_for(process: str, settings: Settings) -> list[Check]:
    """Extra checks for `process` given what `settings` configures."""
    if process != "worker":
        return []
    return [
        Check(
            f"provider:{name}",
            _provider_check(name),
            on_hang=_on_hang(name),
        )
        for name in CHECKED_PROVIDERS
        if settings.delivery.configured(name)
    ]


def _provider_check(name: str) -> Callable[[Settings, float], None]:
    def run(settings: Settings, timeout: float) -> None:
        # Imported here: the web and engine processes never load the providers.
        from app.providers.registry import build_providers

        provider = build_providers(settings)[name]
        own_timeout = max(timeout - min(VERDICT_MARGIN, timeout / 4), 0.1)
        try:
            provider.check(own_timeout)
        except ProviderCheckFailed as exc:
            raise CheckFailed(str(exc)) from None

    return run


def _on_hang(name: str) -> Callable[[Settings, float], str]:
    def describe(settings: Settings, timeout: float) -> str:
        return f"{name}: no answer within {timeout:g}s — check {CHECKED_PROVIDERS[name]}"

    return describe
