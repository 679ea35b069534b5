"""SMS and voice through Twilio's REST API (base URL TWILIO_API_URL, so tests use a fake).

SMS carry the alert's reply code ("reply 12a to ack"); calls read the message inside a
<Gather> whose keypad answer (4 acknowledge, 6 close) Twilio posts to /api/v2/twilio/voice.
Delivery receipts arrive at /api/v2/twilio/status (the StatusCallback).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from app.providers import formatting, http
from app.providers.base import Delivery, DeliveryError, ProviderCheckFailed, Sent
from config.settings import TwilioSettings

API_VERSION = "2010-04-01"
STATUS_PATH = "/api/v2/twilio/status"
VOICE_PATH = "/api/v2/twilio/voice"
# Twilio errors that no retry can fix: an invalid, unreachable, or unsubscribed number.
PERMANENT_CODES = frozenset({21211, 21214, 21217, 21219, 21408, 21610, 21612, 21614})
CALL_TIMEOUT = 30  # seconds Twilio lets a call ring before giving up


class TwilioProvider:
    name = "twilio"

    def __init__(self, settings: TwilioSettings, public_url: str) -> None:
        self.settings = settings
        self.public_url = public_url.rstrip("/")
        self.account_url = (
            f"{settings.api_url}/{API_VERSION}/Accounts/{quote(settings.account_sid)}"
        )
        self._auth = urllib3.util.make_headers(
            basic_auth=f"{settings.account_sid}:{settings.auth_token}"
        )

    def form(self, delivery: Delivery) -> tuple[str, dict[str, str]]:
        """The endpoint and form fields for `delivery` (SMS, or a call for dest_type voice)."""
        common = {
            "To": delivery.address,
            "From": self.settings.from_number,
            "StatusCallback": f"{self.public_url}{STATUS_PATH}",
        }
        if delivery.dest_type == "voice":
            gather = (
                f"{self.public_url}{VOICE_PATH}?{urlencode({'message_id': delivery.message_id})}"
            )
            fields = {
                **common,
                "Twiml": formatting.voice_twiml(delivery, gather),
                "Timeout": str(CALL_TIMEOUT),
            }
            return f"{self.account_url}/Calls.json", fields
        return f"{self.account_url}/Messages.json", {
            **common,
            "Body": formatting.sms_text(delivery),
        }

    def send(self, delivery: Delivery, timeout: float) -> Sent:
        url, fields = self.form(delivery)
        what = "call" if delivery.dest_type == "voice" else "SMS"
        response = http.request("POST", url, timeout=timeout, fields=fields, headers=self._auth)
        body = _json(response.data)
        if response.status in (200, 201) and isinstance(body.get("sid"), str):
            return Sent(provider_message_id=body["sid"])
        raise _error(what, response, body)

    def check(self, timeout: float) -> None:
        """GET the account with the configured credentials: 200, or what Twilio said."""
        where = http.where(self.settings.api_url)
        try:
            response = http.request(
                "GET", f"{self.account_url}.json", timeout=timeout, headers=self._auth
            )
        except DeliveryError as exc:
            raise ProviderCheckFailed(
                f"Twilio credential check: {exc} — check TWILIO_API_URL"
            ) from None
        if response.status == 200:
            return
        body = _json(response.data)
        raise ProviderCheckFailed(
            f"Twilio credential check at {where} answered {response.status}: "
            f"{_twilio_message(body) or 'no error message'} — check TWILIO_ACCOUNT_SID and "
            "TWILIO_AUTH_TOKEN"
        )


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _twilio_message(body: dict[str, Any]) -> str:
    code, message = body.get("code"), body.get("message")
    if code and message:
        return f"error {code}: {message}"
    return str(message or "")


def _error(what: str, response: http.Response, body: dict[str, Any]) -> DeliveryError:
    status = response.status
    detail = _twilio_message(body)
    said = f"Twilio answered {status}" + (f" ({detail})" if detail else "")
    if status == 401:
        return DeliveryError(
            f"Twilio refused the credentials ({said}) — check TWILIO_ACCOUNT_SID and "
            "TWILIO_AUTH_TOKEN",
            permanent=True,
        )
    if http.is_transient_status(status):
        return DeliveryError(
            f"{what} not accepted: {said}",
            permanent=False,
            retry_after=http.retry_after(response.headers),
        )
    if body.get("code") in PERMANENT_CODES:
        return DeliveryError(
            f"{what} refused, the number cannot be reached: {said}", permanent=True
        )
    if 200 <= status < 300:  # a 2xx without a sid: not what the API promises, try again
        return DeliveryError(f"{what}: Twilio answered {status} without a sid", permanent=False)
    return DeliveryError(f"{what} refused: {said}", permanent=True)
