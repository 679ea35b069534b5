"""Sign-in links: one-time, expiring links emailed to invite a person or reset their password.

A link's token is `base64url(id ‖ HMAC-SHA256(KLAXON_SECRET_KEY, purpose:id))`: the id is a
random UUID, the MAC signs it for one purpose. The table keeps only the token's SHA-256 digest
(compared in constant time), never the token; because the token is derived from the row and the
secret key, the worker that emails it re-derives it from the link's id, so the token is never
written to Postgres, Redis or a job's arguments. Rotating the secret key kills every link.

A link is live until the first of: its expiry, its use, its voiding (a new link for the same
user and purpose, an admin's revocation, or the user's password changing: a trigger) or its
user being disabled or deleted. Postgres keeps at most one open link per user and purpose.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from app.platform.sql_fragments import keyset_page

MAC_BYTES = 32
TOKEN_CHARS = 64  # base64url of 16 + 32 bytes, unpadded
MAX_TOKEN_CHARS = 128  # anything longer is refused before it is decoded

LINK_COLUMNS = (
    "l.id::text AS id, l.purpose, l.user_id::text AS user_id, l.created_by::text AS created_by, "
    "l.created_at, l.expires_at, l.used_at, l.voided_at, l.void_reason, l.emailed_at, "
    "u.email, u.name, u.role, u.disabled_at"
)
OPEN = "l.used_at IS NULL AND l.voided_at IS NULL"
LIVE = f"{OPEN} AND l.expires_at > now() AND u.disabled_at IS NULL"


@dataclass(frozen=True)
class Issued:
    link: dict[str, Any]  # LINK_COLUMNS
    token: str  # for the email (or the admin, without SMTP); never stored


@dataclass(frozen=True)
class Found:
    """What a presented token names: `link` (LINK_COLUMNS) when live; otherwise `dead` says
    whether it named a real link that is used, expired or voided (True) or nothing (False)."""

    link: dict[str, Any] | None
    dead: bool = False


def token_for(secret_key: str, purpose: str, link_id: str) -> str:
    """The token of a link: its id and a MAC of it, so only Klaxon can make one."""
    raw = uuid.UUID(link_id).bytes
    return base64.urlsafe_b64encode(raw + _mac(secret_key, purpose, raw)).decode().rstrip("=")


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _mac(secret_key: str, purpose: str, raw_id: bytes) -> bytes:
    message = f"klaxon-signin-link:{purpose}:".encode() + raw_id
    return hmac.new(secret_key.encode(), message, hashlib.sha256).digest()


def _link_id(token: str) -> str | None:
    """The id a well-formed token carries (its MAC is checked by the caller), else None."""
    if len(token) != TOKEN_CHARS or not token.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    return str(uuid.UUID(bytes=raw[:16])) if len(raw) == 16 + MAC_BYTES else None


def issue(
    conn: psycopg.Connection[Any],
    secret_key: str,
    user_id: str,
    purpose: str,
    ttl: int,
    created_by: str | None = None,
) -> Issued:
    """A new link for `user_id`, live for `ttl` seconds; the user's open link of the same
    purpose (if any) is voided first, so only the newest works."""
    conn.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (user_id,))
    void_open(conn, user_id, purpose, "reissued")
    link_id = str(uuid.uuid4())
    token = token_for(secret_key, purpose, link_id)
    conn.execute(
        "INSERT INTO signin_links (id, purpose, user_id, token_hash, created_by, expires_at) "
        "VALUES (%s, %s, %s, %s, %s, now() + make_interval(secs => %s))",
        (link_id, purpose, user_id, token_digest(token), created_by, ttl),
    )
    link = get_link(conn, link_id)
    assert link is not None
    return Issued(link, token)


def find(conn: psycopg.Connection[Any], secret_key: str, token: str, purpose: str) -> Found:
    """The live link `token` names for `purpose`. Tampered, unknown and other-purpose tokens
    are `Found(None, dead=False)`; used, expired and voided ones `Found(None, dead=True)`."""
    link_id = _link_id(token[:MAX_TOKEN_CHARS])
    if link_id is None:
        return Found(None)
    expected = token_for(secret_key, purpose, link_id)
    row = conn.execute(
        f"SELECT {LINK_COLUMNS}, l.token_hash, ({LIVE}) AS live "
        "FROM signin_links l JOIN users u ON u.id = l.user_id WHERE l.id = %s AND l.purpose = %s",
        (link_id, purpose),
    ).fetchone()
    signed = hmac.compare_digest(expected.encode(), token.encode())
    if row is None or not signed or not hmac.compare_digest(row["token_hash"], token_digest(token)):
        return Found(None)
    link = {k: v for k, v in dict(row).items() if k not in ("token_hash", "live")}
    return Found(link) if row["live"] else Found(None, dead=True)


def use(conn: psycopg.Connection[Any], link_id: str) -> bool:
    """Mark a live link used; False if it was not live any more (used a moment ago)."""
    return (
        conn.execute(
            f"UPDATE signin_links l SET used_at = now() FROM users u "
            f"WHERE l.id = %s AND u.id = l.user_id AND {LIVE}",
            (link_id,),
        ).rowcount
        > 0
    )


def void_open(conn: psycopg.Connection[Any], user_id: str, purpose: str, reason: str) -> int:
    """Void the user's open links of `purpose`; how many."""
    return conn.execute(
        "UPDATE signin_links SET voided_at = now(), void_reason = %s "
        "WHERE user_id = %s AND purpose = %s AND used_at IS NULL AND voided_at IS NULL",
        (reason, user_id, purpose),
    ).rowcount


def revoke(conn: psycopg.Connection[Any], link_id: str, purpose: str) -> bool:
    """Void one open link (an admin revoking an invitation); False if it is not open."""
    return (
        conn.execute(
            "UPDATE signin_links SET voided_at = now(), void_reason = 'revoked' "
            "WHERE id = %s AND purpose = %s AND used_at IS NULL AND voided_at IS NULL",
            (link_id, purpose),
        ).rowcount
        > 0
    )


def mark_emailed(conn: psycopg.Connection[Any], link_id: str) -> None:
    conn.execute("UPDATE signin_links SET emailed_at = now() WHERE id = %s", (link_id,))


def get_link(conn: psycopg.Connection[Any], link_id: str) -> dict[str, Any] | None:
    """A link (LINK_COLUMNS) with `live`, by id."""
    row = conn.execute(
        f"SELECT {LINK_COLUMNS}, ({LIVE}) AS live FROM signin_links l "
        "JOIN users u ON u.id = l.user_id WHERE l.id = %s",
        (link_id,),
    ).fetchone()
    return dict(row) if row else None


def list_links(
    conn: psycopg.Connection[Any],
    purpose: str,
    after: tuple[str, str] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Links of `purpose`, oldest first, each with `live`."""
    return keyset_page(conn, "*", _LISTED, after, limit, "purpose = %(purpose)s", purpose=purpose)


# The links joined to their users, as one relation whose `id` and `created_at` are the link's,
# so the shared keyset paging reads it like a table.
_LISTED = (
    f"(SELECT {LINK_COLUMNS.replace('l.id::text AS id', 'l.id')}, ({LIVE}) AS live "
    "FROM signin_links l "
    "JOIN users u ON u.id = l.user_id) AS links"
)
