"""Twilio's request signature (`X-Twilio-Signature`): proof that a webhook came from Twilio.

The signature is base64(HMAC-SHA1(auth token, URL + each POST parameter's name and value,
sorted by name)), where URL is the full public URL Twilio requested, query string included
(https://www.twilio.com/docs/usage/security#validating-requests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

HEADER = "X-Twilio-Signature"


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature Twilio sends for a POST of `params` (name, value pairs) to `url`."""
    # A name sent more than once contributes each of its values, in sorted order (as Twilio's
    # own helper libraries do).
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def is_valid(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], given: str | None
) -> bool:
    """Whether `given` is the signature of this request, compared in constant time."""
    if not given:
        return False
    expected = signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
