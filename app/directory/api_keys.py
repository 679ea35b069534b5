"""API keys (`klx_…`) for /api/v1 and the admin pages: created with a token shown once,
verified by id + hash, scoped read < write < admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from app.platform import tokens
from app.platform.sql_fragments import keyset_page

SCOPES = ("read", "write", "admin")  # each includes the ones before it


def scope_allows(granted: str, needed: str) -> bool:
    return SCOPES.index(granted) >= SCOPES.index(needed)


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scope: str


def create_api_key(conn: psycopg.Connection[Any], name: str, scope: str) -> dict[str, Any]:
    """A new API key; the returned `key` is the only time the secret is seen."""
    new = tokens.new_token(tokens.API_KEY_PREFIX)
    row = conn.execute(
        "INSERT INTO api_keys (id, name, scope, secret_hash) VALUES (%s, %s, %s, %s) "
        "RETURNING id::text AS id, name, scope, created_at, last_used_at, revoked_at",
        (new.id, name, scope, new.secret_hash),
    ).fetchone()
    assert row is not None
    return {**row, "key": new.token}


def verify_api_key(conn: psycopg.Connection[Any], token: str) -> ApiKey | None:
    """The live key this token proves, else None (unknown, malformed, wrong or revoked)."""
    parsed = tokens.parse_token(tokens.API_KEY_PREFIX, token)
    if parsed is None:
        return None
    key_id, secret = parsed
    row = conn.execute(
        "SELECT id::text AS id, name, scope, secret_hash, "
        "last_used_at < now() - make_interval(secs => %s) OR last_used_at IS NULL AS stale "
        "FROM api_keys WHERE id = %s AND revoked_at IS NULL",
        (tokens.LAST_USED_RESOLUTION, key_id),
    ).fetchone()
    if row is None or not tokens.secret_matches(row["secret_hash"], secret):
        return None
    if row["stale"]:
        conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = %s", (key_id,))
    return ApiKey(row["id"], row["name"], row["scope"])


# ---- listing, reading and revoking (the REST API; secrets are never returned) -----------------

API_KEY_COLUMNS = "id::text AS id, name, scope, created_at, last_used_at, revoked_at"


def list_api_keys(
    conn: psycopg.Connection[Any], after: tuple[str, str] | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """API keys, revoked ones included, ordered by (created_at, id) after `after`."""
    return keyset_page(conn, API_KEY_COLUMNS, "api_keys", after, limit)


def get_api_key(conn: psycopg.Connection[Any], key_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = %s", (key_id,)
    ).fetchone()
    return dict(row) if row else None


def revoke_api_key(conn: psycopg.Connection[Any], key_id: str) -> bool:
    """Revoke an API key (it fails verification from now on); False if there is no such key."""
    return (
        conn.execute(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s",
            (key_id,),
        ).rowcount
        > 0
    )
