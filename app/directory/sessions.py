"""Sign-in sessions: server-side rows behind a random cookie token, and their CSRF tokens.

The cookie carries a random 256-bit token; the table keeps only its SHA-256 digest. A session
is live until the first of its idle expiry (moved forward as it is used, at most once per
`touch_every` seconds so a busy tab is not a write per request), its absolute expiry, its
revocation (sign-out, a password change, an admin's "sign out everywhere") or its user being
disabled or deleted. Every check is made by Postgres at lookup, so an ended session fails on
its very next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg

from app.platform.sql_fragments import keyset_page

TOKEN_BYTES = 32  # 256 bits
MAX_USER_AGENT = 512  # characters kept of a User-Agent (the column's bound)
MAX_ADDRESS = 64  # characters kept of a client address
# last_seen_at (and with it the idle expiry) is written at most this often per session.
TOUCH_EVERY = 60
# Ended sessions stay listed for an admin this long, then a sign-in of the same user prunes them.
KEEP_ENDED_DAYS = 30

SESSION_COLUMNS = (
    "id::text AS id, user_id::text AS user_id, created_at, last_seen_at, idle_expires_at, "
    "expires_at, user_agent, address, revoked_at"
)
LIVE = "revoked_at IS NULL AND idle_expires_at > now() AND expires_at > now()"


@dataclass(frozen=True)
class LiveSession:
    """A live session and the user it acts as."""

    id: str
    user_id: str
    role: str
    email: str
    name: str


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create_session(
    conn: psycopg.Connection[Any],
    user_id: str,
    idle: int,
    longest: int,
    user_agent: str = "",
    address: str = "",
) -> tuple[dict[str, Any], str]:
    """A new session for `user_id` lasting `idle` s unused and `longest` s at most: its row and
    the token for the cookie (the only time the token is seen)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    conn.execute(
        "DELETE FROM sessions WHERE user_id = %s AND coalesce(revoked_at, expires_at) "
        "< now() - make_interval(days => %s)",
        (user_id, KEEP_ENDED_DAYS),
    )
    row = conn.execute(
        "INSERT INTO sessions (user_id, token_hash, idle_expires_at, expires_at, user_agent, "
        "address) VALUES (%(user)s, %(hash)s, now() + make_interval(secs => %(idle)s), "
        "now() + make_interval(secs => %(longest)s), %(agent)s, %(address)s) "
        f"RETURNING {SESSION_COLUMNS}",
        {
            "user": user_id,
            "hash": token_digest(token),
            "idle": min(idle, longest),
            "longest": longest,
            "agent": user_agent[:MAX_USER_AGENT],
            "address": address[:MAX_ADDRESS],
        },
    ).fetchone()
    assert row is not None
    return dict(row), token


def live_session(
    conn: psycopg.Connection[Any], token: str, idle: int, touch_every: int = TOUCH_EVERY
) -> LiveSession | None:
    """The live session this cookie token names, else None (unknown, ended, user disabled).
    Moves its idle expiry forward when it was last seen more than `touch_every` s ago."""
    row = conn.execute(
        "SELECT s.id::text AS id, s.user_id::text AS user_id, u.role, u.email, u.name, "
        "s.last_seen_at < now() - make_interval(secs => %(touch)s) AS stale "
        "FROM sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_hash = %(hash)s AND s.revoked_at IS NULL AND s.idle_expires_at > now() "
        "AND s.expires_at > now() AND u.disabled_at IS NULL",
        {"hash": token_digest(token), "touch": min(touch_every, max(idle // 4, 0))},
    ).fetchone()
    if row is None:
        return None
    if row["stale"]:
        conn.execute(
            "UPDATE sessions SET last_seen_at = now(), "
            "idle_expires_at = least(now() + make_interval(secs => %s), expires_at) "
            "WHERE id = %s",
            (idle, row["id"]),
        )
    return LiveSession(row["id"], row["user_id"], row["role"], row["email"], row["name"])


def get_session(conn: psycopg.Connection[Any], session_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = %s", (session_id,)
    ).fetchone()
    return dict(row) if row else None


def list_sessions(
    conn: psycopg.Connection[Any],
    user_id: str,
    after: tuple[str, str] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """A user's live sessions, oldest first."""
    return keyset_page(
        conn, SESSION_COLUMNS, "sessions", after, limit, f"user_id = %(user)s AND {LIVE}",
        user=user_id,
    )  # fmt: skip


def revoke_session(conn: psycopg.Connection[Any], user_id: str, session_id: str) -> bool:
    """End one live session of `user_id`; False when there is no such live session."""
    return (
        conn.execute(
            f"UPDATE sessions SET revoked_at = now() WHERE id = %s AND user_id = %s AND {LIVE}",
            (session_id, user_id),
        ).rowcount
        > 0
    )


def revoke_user_sessions(
    conn: psycopg.Connection[Any], user_id: str, keep: str | None = None
) -> int:
    """End every live session of `user_id` but `keep` (the one asking); how many ended."""
    return conn.execute(
        f"UPDATE sessions SET revoked_at = now() WHERE user_id = %s AND {LIVE} "
        "AND id IS DISTINCT FROM %s::uuid",
        (user_id, keep),
    ).rowcount


# ---- CSRF: a token bound to the session, derived rather than stored --------------------------


def last_sign_ins(conn: psycopg.Connection[Any], user_ids: Iterable[str]) -> dict[str, Any]:
    """When each of these users last signed in, as far as the kept sessions tell (ended ones
    are pruned after KEEP_ENDED_DAYS): user id -> the newest session's created_at."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT user_id::text AS user_id, max(created_at) AS at FROM sessions "
        "WHERE user_id = ANY(%s::uuid[]) GROUP BY user_id",
        (wanted,),
    ).fetchall()
    return {row["user_id"]: row["at"] for row in rows}


def csrf_token(secret_key: str, session_id: str) -> str:
    """The CSRF token of a session: an HMAC of its id under KLAXON_SECRET_KEY. Another site
    can neither read it (it travels in response bodies only) nor compute it."""
    mac = hmac.new(secret_key.encode(), f"klaxon-csrf:{session_id}".encode(), hashlib.sha256)
    return mac.hexdigest()


def csrf_matches(secret_key: str, session_id: str, presented: str) -> bool:
    return hmac.compare_digest(csrf_token(secret_key, session_id).encode(), presented.encode())
