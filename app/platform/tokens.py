"""Secrets handed to clients (API keys, integration tokens): an indexed id plus a hashed secret.

A token reads `<prefix>_<id hex>_<secret>`. Only SHA-256 of the secret is stored; the id finds
the row, and the digest is compared in constant time. The token is shown once, on creation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

# last_used_at is written at most this often per key (seconds): a hot ingest path must not
# turn every request into a row update.
LAST_USED_RESOLUTION = 60

API_KEY_PREFIX = "klx"
INTEGRATION_PREFIX = "kli"
CHECKIN_PREFIX = "khb"  # a heartbeat monitor's check-in secret: `khb_<secret>`, no id in it
SECRET_BYTES = 24  # 192 bits of entropy: a plain SHA-256 needs no salt or stretching


@dataclass(frozen=True)
class NewToken:
    id: uuid.UUID
    token: str  # shown to the user once
    secret_hash: bytes  # stored


def new_token(prefix: str) -> NewToken:
    """A fresh id and secret, and the token that carries both."""
    token_id = uuid.uuid4()
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return NewToken(token_id, f"{prefix}_{token_id.hex}_{secret}", digest(secret))


def new_checkin_secret() -> tuple[str, bytes]:
    """A heartbeat monitor's check-in secret (shown once) and its digest (stored)."""
    secret = f"{CHECKIN_PREFIX}_{secrets.token_urlsafe(SECRET_BYTES)}"
    return secret, digest(secret)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse_token(prefix: str, token: str) -> tuple[uuid.UUID, str] | None:
    """(id, secret) of a well-formed token of this kind, else None."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != prefix or not parts[2]:
        return None
    try:
        return uuid.UUID(hex=parts[1]), parts[2]
    except ValueError:
        return None


def secret_matches(stored_hash: bytes, secret: str) -> bool:
    return hmac.compare_digest(bytes(stored_hash), digest(secret))
