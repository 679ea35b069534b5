"""Signed acknowledge/close links sent in notifications.

A link names one alert, one action, who it was sent to and through which channel; it is signed
with KLAXON_SECRET_KEY and expires after KLAXON_LINK_TTL. Following it (GET) only shows a
confirmation page; the action happens on POST, so a chat app's link preview cannot acknowledge.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from config.settings import Settings

SALT = "klaxon.alert-action.v1"
ACTIONS = ("acknowledge", "close")
PATH = "/actions/"  # + token


class LinkInvalid(Exception):
    """Tampered, malformed or signed with another key."""


class LinkExpired(LinkInvalid):
    """Well signed, but older than KLAXON_LINK_TTL."""


@dataclass(frozen=True)
class ActionLink:
    alert_id: int
    action: str  # acknowledge | close
    user_id: str | None  # who the link was sent to (None for a channel)
    via: str  # the channel it travelled through: email, sms, slack, webhook, …


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def make_token(secret_key: str, link: ActionLink) -> str:
    return _serializer(secret_key).dumps([link.alert_id, link.action, link.user_id, link.via])


def action_url(settings: Settings, link: ActionLink) -> str:
    """The absolute URL a person follows to act on the alert."""
    return f"{settings.public_url}{PATH}{make_token(settings.secret_key, link)}"


def read_token(secret_key: str, token: str, max_age: int) -> ActionLink:
    """The link a token carries; LinkExpired or LinkInvalid otherwise."""
    try:
        value = _serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise LinkExpired("this link has expired") from exc
    except BadSignature as exc:
        raise LinkInvalid("this link is not valid") from exc
    try:
        alert_id, action, user_id, via = value
        link = ActionLink(int(alert_id), str(action), user_id and str(user_id), str(via))
    except (TypeError, ValueError) as exc:
        raise LinkInvalid("this link is not valid") from exc
    if link.action not in ACTIONS:
        raise LinkInvalid("this link is not valid")
    return link
