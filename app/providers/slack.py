"""Slack provider: chat.postMessage with a bot token (base URL SLACK_API_URL).

The address is a channel id, or a member id (Slack opens a DM). Alert messages carry
Acknowledge/Close buttons whose value is the signed action-link token, which the interactive
endpoint verifies, plus the same links as plain links for clients without buttons.
"""

from __future__ import annotations

import json
from typing import Any

from app.providers import formatting, http
from app.providers.base import Delivery, DeliveryError, ProviderCheckFailed, Sent
from config.settings import SlackSettings

# Slack errors that no retry can fix (wrong destination, wrong or revoked credentials).
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "user_not_found",
        "restricted_action",
        "msg_too_long",
        "invalid_blocks",
        "no_text",
        "invalid_arguments",
    }
)
# Slack's own failures: retried. Anything not listed in either set is retried too, since a page
# must not be dropped on an error we have not seen; max_attempts still bounds it.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackProvider:
    name = "slack"

    def __init__(self, settings: SlackSettings) -> None:
        self.api_url = settings.api_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {settings.bot_token}",
            "Content-Type": "application/json; charset=utf-8",
        }

    def message(self, delivery: Delivery) -> dict[str, Any]:
        return {
            "channel": delivery.address,
            "text": formatting.slack_fallback(delivery),
            "blocks": formatting.slack_blocks(delivery),
            # No previews: they would fetch the action links (a GET only confirms, but still).
            "unfurl_links": False,
            "unfurl_media": False,
            "metadata": formatting.slack_metadata(delivery),
        }

    def _call(
        self, method: str, payload: dict[str, Any], timeout: float
    ) -> tuple[http.Response, dict[str, Any]]:
        response = http.request(
            "POST",
            f"{self.api_url}/{method}",
            timeout=timeout,
            body=json.dumps(payload).encode(),
            headers=self._headers,
        )
        try:
            body = json.loads(response.data)
        except ValueError:
            body = {}
        return response, body if isinstance(body, dict) else {}

    def send(self, delivery: Delivery, timeout: float) -> Sent:
        response, body = self._call("chat.postMessage", self.message(delivery), timeout)
        if response.status == 200 and body.get("ok") is True and body.get("ts"):
            return Sent(provider_message_id=str(body["ts"]))
        error = str(body.get("error") or "")
        said = f"Slack answered {response.status}" + (f" {error}" if error else "")
        retry_after = http.retry_after(response.headers)
        if response.status == 429 or error == "ratelimited":
            raise DeliveryError(f"{said} (rate limited)", permanent=False, retry_after=retry_after)
        if http.is_transient_status(response.status):
            raise DeliveryError(said, permanent=False, retry_after=retry_after)
        if error in PERMANENT_ERRORS:
            hint = " — check SLACK_BOT_TOKEN" if "auth" in error or "token" in error else ""
            raise DeliveryError(f"{said}{hint}", permanent=True)
        if response.status == 200 or error in TRANSIENT_ERRORS:
            raise DeliveryError(said, permanent=False, retry_after=retry_after)
        raise DeliveryError(said, permanent=True)  # another 4xx: the request itself is wrong

    def check(self, timeout: float) -> None:
        """auth.test with the bot token: ok, or Slack's error."""
        where = http.where(self.api_url)
        try:
            response, body = self._call("auth.test", {}, timeout)
        except DeliveryError as exc:
            raise ProviderCheckFailed(f"Slack auth.test: {exc} — check SLACK_API_URL") from None
        if response.status == 200 and body.get("ok") is True:
            return
        error = body.get("error") or "no error given"
        raise ProviderCheckFailed(
            f"Slack auth.test at {where} answered {response.status}: {error} — check "
            "SLACK_BOT_TOKEN"
        )
