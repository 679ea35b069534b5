"""Destination addresses of contact methods and notification channels, and their check.

Addresses are checked per type in the views (`check_address`), because which rule applies
depends on the `type` of the method or channel, which a PATCH does not carry.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, StringConstraints

from app.http.api.schemas.base import one_line
from app.platform.errors import invalid

Address = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048),
    AfterValidator(one_line),
]

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
SLACK_MEMBER = re.compile(r"[UW][A-Z0-9]{2,20}")
SLACK_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,20}|#[a-z0-9._-]{1,80}")

# What each address type must look like, as a user reads it in an error.
EXPECTED = {
    "email": "an email address, e.g. oncall@example.com",
    "sms": "an E.164 phone number: + and 7 to 15 digits, e.g. +15551234567",
    "voice": "an E.164 phone number: + and 7 to 15 digits, e.g. +15551234567",
    "webhook": "an http:// or https:// URL with a host",
    "slack": "a Slack member id, e.g. U012AB3CD",
    "slack_channel": "a Slack channel id (e.g. C012AB3CD) or #channel-name",
}


def _url_ok(address: str) -> bool:
    try:
        parts = urlsplit(address)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in address
    except ValueError:
        return False


def _is_email(address: str) -> bool:
    """`local@domain`, no blanks, a dot inside the domain, in one pass: the pattern it replaces
    (`[^@\\s]+@[^@\\s]+\\.[^@\\s]+`) backtracked quadratically over a domain of dots."""
    local, _, domain = address.partition("@")
    return (
        bool(local)
        and "@" not in domain
        and "." in domain[1:-1]
        and not any(map(str.isspace, address))
    )


def check_address(kind: str, address: str, field: str = "address") -> None:
    """Raise a 422 naming `field` unless `address` suits destination type `kind`
    (`slack_channel` for a channel's Slack address)."""
    ok = {
        "email": lambda: _is_email(address),
        "sms": lambda: bool(E164.fullmatch(address)),
        "voice": lambda: bool(E164.fullmatch(address)),
        "webhook": lambda: _url_ok(address),
        "slack": lambda: bool(SLACK_MEMBER.fullmatch(address)),
        "slack_channel": lambda: bool(SLACK_CHANNEL.fullmatch(address)),
    }[kind]()
    if not ok:
        raise invalid(field, f"must be {EXPECTED[kind]}")
