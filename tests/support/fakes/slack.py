"""A fake of Slack's Web API: chat.postMessage and auth.test with a Bearer token.

Answers like Slack does: HTTP 200 with {"ok": false, "error": "..."} for API errors, HTTP 429
with Retry-After and {"ok": false, "error": "ratelimited"} when rate-limited.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from tests.support.fakes.recording import Answer, RecordingServer, Request

BOT_TOKEN = "xoxb-fake-klaxon-bot-token"
CHANNEL = "C0KLAXON01"
MEMBER = "U0ONCALL01"  # a member id: posting to it opens a DM
ARCHIVED = "C0ARCHIVED"


@dataclass(frozen=True)
class Failure:
    """Answer with Slack API `error` (HTTP `status`); `hang` never answers."""

    error: str = "internal_error"
    status: int = 200
    retry_after: str | None = None
    hang: bool = False


class FakeSlack(RecordingServer[Failure]):
    def __init__(self, token: str = BOT_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.channels = {CHANNEL, ARCHIVED}
        self.members = {MEMBER}
        self._ts = itertools.count(100)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api"

    def posts(self) -> list[Request]:
        return self.requests("/chat.postMessage")

    def answer(self, request: Request) -> Answer:
        failure = self._injected()
        if failure is not None:
            if failure.hang:
                return Answer(0, b"", hang=True)
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else None
            return Answer(failure.status, {"ok": False, "error": failure.error}, headers)
        auth = request.headers.get("authorization", "")
        if not auth:
            return Answer(200, {"ok": False, "error": "not_authed"})
        if auth != f"Bearer {self.token}":
            return Answer(200, {"ok": False, "error": "invalid_auth"})
        if request.path == "/api/auth.test":
            return Answer(
                200,
                {
                    "ok": True,
                    "url": "https://klaxon-test.slack.com/",
                    "team": "Klaxon Test",
                    "user": "klaxon",
                    "team_id": "T0KLAXON",
                    "user_id": "U0KLAXONBOT",
                    "bot_id": "B0KLAXON",
                },
            )
        if request.path == "/api/chat.postMessage":
            return self._post(request)
        return Answer(404, {"ok": False, "error": "unknown_method"})

    def _post(self, request: Request) -> Answer:
        if not request.headers.get("content-type", "").startswith("application/json"):
            return Answer(200, {"ok": False, "error": "invalid_form_data"})
        body = request.json()
        channel = body.get("channel", "")
        if channel == ARCHIVED:
            return Answer(200, {"ok": False, "error": "is_archived"})
        if channel in self.members:
            channel = "D" + channel[1:]  # the DM channel Slack opens with that member
        elif channel not in self.channels:
            return Answer(200, {"ok": False, "error": "channel_not_found"})
        if not (body.get("text") or body.get("blocks")):
            return Answer(200, {"ok": False, "error": "no_text"})
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        return Answer(
            200,
            {
                "ok": True,
                "channel": channel,
                "ts": ts,
                "message": {
                    "type": "message",
                    "bot_id": "B0KLAXON",
                    "text": body.get("text", ""),
                    "ts": ts,
                },
            },
        )
