"""Where an ingest token may travel: every place GoAlert looks, in GoAlert's order.

1. a form or query field `token`, then `integrationKey`, `integration_key`, `key` (a body form
   field wins over the query, as Go's `Request.FormValue` does);
2. `Authorization: Bearer <token>` (or a bare `Authorization: <token>`, which GoAlert also
   takes);
3. HTTP Basic auth: the password (or the user name when the password is empty, for senders
   configured as `token:`).

The token is returned to be verified and then forgotten: it is never logged or echoed.
"""

from __future__ import annotations

import base64
import binascii

from werkzeug.datastructures import MultiDict

TOKEN_FIELDS = ("token", "integrationKey", "integration_key", "key")
MAX_TOKEN = 512  # characters; ours are ~80, anything longer is not a token of ours


def find_token(
    query: MultiDict[str, str], form: MultiDict[str, str], authorization: str | None
) -> str | None:
    """The token the request carries (fields first, then the Authorization header), or None."""
    for name in TOKEN_FIELDS:
        for source in (form, query):
            value = source[name].strip() if name in source else ""
            if value:
                return value[:MAX_TOKEN]
    token = from_authorization(authorization or "")
    return token[:MAX_TOKEN] if token else None


def from_authorization(header: str) -> str | None:
    """The token in an Authorization header: Bearer, Basic, or a bare token."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    rest = rest.strip()
    if scheme.lower() == "bearer":
        return rest or None
    if scheme.lower() == "basic":
        return _basic_secret(rest)
    return header if not rest else None  # a bare token, as GoAlert accepts


def _basic_secret(encoded: str) -> str | None:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, _, password = decoded.partition(":")
    return password.strip() or user.strip() or None
