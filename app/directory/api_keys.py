"""API keys (`klx_…`) for /api/v1 and the admin pages: created with a token shown once,
verified by id + hash, scoped read < write < admin.

A key belongs to a user (a personal key: it acts as that user, its scope capping the user's
permissions), to a team (a team key: it acts for the team like one of its managers), or to
no one (a service key, made by admins; keys made before teams existed are service keys).
A personal key of a disabled user fails verification, like a revoked one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from app.platform import tokens
from app.platform.sql_fragments import keyset_page

SCOPES = ("read", "write", "admin")  # each includes the ones before it


def scope_allows(granted: str, needed: str) -> bool:
    return SCOPES.index(granted) >= SCOPES.index(needed)


def scope_cap(first: str, second: str) -> str:
    """The smaller of two scopes."""
    return first if SCOPES.index(first) <= SCOPES.index(second) else second


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scope: str
    owner_user_id: str | None = None
    owner_team_id: str | None = None
    owner_role: str | None = None  # the owning user's role (admin|user), for a personal key


API_KEY_COLUMNS = (
    "id::text AS id, name, scope, owner_user_id::text AS owner_user_id, "
    "owner_team_id::text AS owner_team_id, created_at, last_used_at, revoked_at"
)


def create_api_key(
    conn: psycopg.Connection[Any],
    name: str,
    scope: str,
    owner_user_id: str | None = None,
    owner_team_id: str | None = None,
) -> dict[str, Any]:
    """A new API key (personal, team or service key); the returned `key` is the only time the
    secret is seen."""
    new = tokens.new_token(tokens.API_KEY_PREFIX)
    row = conn.execute(
        "INSERT INTO api_keys (id, name, scope, secret_hash, owner_user_id, owner_team_id) "
        f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING {API_KEY_COLUMNS}",
        (new.id, name, scope, new.secret_hash, owner_user_id, owner_team_id),
    ).fetchone()
    assert row is not None
    return {**row, "key": new.token}


def verify_api_key(conn: psycopg.Connection[Any], token: str) -> ApiKey | None:
    """The live key this token proves, else None (unknown, malformed, wrong or revoked)."""
    parsed = tokens.parse_token(tokens.API_KEY_PREFIX, token)
    if parsed is None:
        return None
    key_id, secret = parsed
    # One indexed lookup: the owning user (if any) comes along, and a disabled owner is no key.
    row = conn.execute(
        "SELECT k.id::text AS id, k.name, k.scope, k.secret_hash, "
        "k.owner_user_id::text AS owner_user_id, k.owner_team_id::text AS owner_team_id, "
        "u.role AS owner_role, "
        "k.last_used_at < now() - make_interval(secs => %s) OR k.last_used_at IS NULL AS stale "
        "FROM api_keys k LEFT JOIN users u ON u.id = k.owner_user_id "
        "WHERE k.id = %s AND k.revoked_at IS NULL "
        "AND (k.owner_user_id IS NULL OR u.disabled_at IS NULL)",
        (tokens.LAST_USED_RESOLUTION, key_id),
    ).fetchone()
    if row is None or not tokens.secret_matches(row["secret_hash"], secret):
        return None
    if row["stale"]:
        conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = %s", (key_id,))
    return ApiKey(
        row["id"], row["name"], row["scope"], row["owner_user_id"], row["owner_team_id"],
        row["owner_role"],
    )  # fmt: skip


# ---- listing, reading and revoking (the REST API; secrets are never returned) -----------------


def list_api_keys(
    conn: psycopg.Connection[Any],
    after: tuple[str, str] | None = None,
    limit: int = 50,
    visible_to: tuple[str | None, frozenset[str]] | None = None,
) -> list[dict[str, Any]]:
    """API keys, revoked ones included, ordered by (created_at, id) after `after`. With
    `visible_to` = (user id, team ids): only that user's personal keys and those teams' keys."""
    if visible_to is None:
        return keyset_page(conn, API_KEY_COLUMNS, "api_keys", after, limit)
    user_id, team_ids = visible_to
    return keyset_page(
        conn, API_KEY_COLUMNS, "api_keys", after, limit,
        "(owner_user_id = %(user)s OR owner_team_id = ANY(%(teams)s::uuid[]))",
        user=user_id, teams=sorted(team_ids),
    )  # fmt: skip


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
