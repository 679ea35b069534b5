"""A fake of Twilio's REST API (2010-04-01): Messages, Calls and the account, with Basic auth.

Answers look like Twilio's (sid, status, error JSON with code/message/more_info/status), so the
provider parses what it would parse in production. `fail_next(...)` or `failure` make it fail.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from email.utils import formatdate

from tests.support.fakes.recording import Answer, RecordingServer, Request

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token"
FROM_NUMBER = "+15005550006"
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# Twilio's magic test numbers, kept: this one is "not a valid phone number" (error 21211).
INVALID_NUMBER = "+15005550001"
UNSUBSCRIBED_NUMBER = "+15005550009"  # stands in for a recipient who replied STOP (21610)


@dataclass(frozen=True)
class Failure:
    """Answer `status` with Twilio error `code` (0: a non-JSON failure); `hang` never answers."""

    status: int = 500
    code: int = 20500
    message: str = "An internal server error has occurred"
    retry_after: str | None = None
    hang: bool = False


def error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Answer:
    return Answer(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        headers,
    )


class FakeTwilio(RecordingServer[Failure]):
    def __init__(self, sid: str = ACCOUNT_SID, token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.sid = sid
        self.token = token

    def messages(self) -> list[Request]:
        return [r for r in self.requests("/Messages.json") if r.method == "POST"]

    def calls(self) -> list[Request]:
        return [r for r in self.requests("/Calls.json") if r.method == "POST"]

    def _authorised(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    def answer(self, request: Request) -> Answer:
        failure = self._injected()
        if failure is not None:
            if failure.hang:
                return Answer(0, b"", hang=True)
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else None
            return error(failure.status, failure.code, failure.message, headers)
        prefix = f"/2010-04-01/Accounts/{self.sid}"
        if not self._authorised(request):
            return error(401, 20003, "Authenticate")
        if request.method == "GET" and request.path == f"{prefix}.json":
            return Answer(200, self._account())
        if request.method == "POST" and request.path == f"{prefix}/Messages.json":
            return self._message(request.form())
        if request.method == "POST" and request.path == f"{prefix}/Calls.json":
            return self._call(request.form())
        return error(404, 20404, f"The requested resource {request.path} was not found")

    def _account(self) -> dict[str, object]:
        return {
            "sid": self.sid,
            "friendly_name": "Klaxon test account",
            "status": "active",
            "type": "Full",
            "date_created": formatdate(usegmt=True),
            "uri": f"/2010-04-01/Accounts/{self.sid}.json",
        }

    def _check_to(self, form: dict[str, str]) -> Answer | None:
        to = form.get("To", "")
        if not E164.fullmatch(to) or to == INVALID_NUMBER:
            return error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if to == UNSUBSCRIBED_NUMBER:
            return error(400, 21610, "Attempt to send to unsubscribed recipient")
        if not form.get("From"):
            return error(400, 21603, "A 'From' phone number is required.")
        return None

    def _message(self, form: dict[str, str]) -> Answer:
        if (bad := self._check_to(form)) is not None:
            return bad
        if not form.get("Body"):
            return error(400, 21602, "Message body is required.")
        sid = "SM" + secrets.token_hex(16)
        return Answer(
            201,
            {
                "sid": sid,
                "account_sid": self.sid,
                "to": form["To"],
                "from": form["From"],
                "body": form["Body"],
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "date_created": formatdate(usegmt=True),
                "error_code": None,
                "error_message": None,
                "uri": f"/2010-04-01/Accounts/{self.sid}/Messages/{sid}.json",
            },
        )

    def _call(self, form: dict[str, str]) -> Answer:
        if (bad := self._check_to(form)) is not None:
            return bad
        if not (form.get("Twiml") or form.get("Url")):
            return error(400, 21205, "Url parameter is required.")
        sid = "CA" + secrets.token_hex(16)
        return Answer(
            201,
            {
                "sid": sid,
                "account_sid": self.sid,
                "to": form["To"],
                "from": form["From"],
                "status": "queued",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "date_created": formatdate(usegmt=True),
                "uri": f"/2010-04-01/Accounts/{self.sid}/Calls/{sid}.json",
            },
        )
