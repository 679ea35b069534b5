"""API keys and integration keys: created with a token shown once, verified by id + hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from app import tokens
from app.sql_fragments import keyset_page

SCOPES = ("read", "write", "admin")  # each includes the ones before it
INTEGRATION_TYPES = ("generic", "grafana", "prometheusAlertmanager", "email")
# last_used_at is written at most this often per key (seconds): a hot ingest path must not
# turn every request into a row update.
LAST_USED_RESOLUTION = 60


def scope_allows(granted: str, needed: str) -> bool:
    return SCOPES.index(granted) >= SCOPES.index(needed)


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scope: str


@dataclass(frozen=True)
class IntegrationKey:
    id: str
    service_id: str
    type: str


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
        (LAST_USED_RESOLUTION, key_id),
    ).fetchone()
    if row is None or not tokens.secret_matches(row["secret_hash"], secret):
        return None
    if row["stale"]:
        conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = %s", (key_id,))
    return ApiKey(row["id"], row["name"], row["scope"])


def create_integration_key(
    conn: psycopg.Connection[Any], service_id: str, key_type: str, name: str = ""
) -> dict[str, Any]:
    """A new integration key for a service; the returned `token` is shown only once."""
    new = tokens.new_token(tokens.INTEGRATION_PREFIX)
    row = conn.execute(
        "INSERT INTO integration_keys (id, service_id, type, name, secret_hash) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id::text AS id, service_id::text AS service_id, "
        "type, name, created_at, last_used_at, revoked_at",
        (new.id, service_id, key_type, name, new.secret_hash),
    ).fetchone()
    assert row is not None
    return {**row, "token": new.token}


def _proven_integration_key(conn: psycopg.Connection[Any], token: str) -> dict[str, Any] | None:
    """The live integration key row this token proves (with `stale`), else None; reads only."""
    parsed = tokens.parse_token(tokens.INTEGRATION_PREFIX, token)
    if parsed is None:
        return None
    key_id, secret = parsed
    row = conn.execute(
        "SELECT id::text AS id, service_id::text AS service_id, type, secret_hash, "
        "last_used_at < now() - make_interval(secs => %s) OR last_used_at IS NULL AS stale "
        "FROM integration_keys WHERE id = %s AND revoked_at IS NULL",
        (LAST_USED_RESOLUTION, key_id),
    ).fetchone()
    if row is None or not tokens.secret_matches(row["secret_hash"], secret):
        return None
    return dict(row)


def verify_integration_key(conn: psycopg.Connection[Any], token: str) -> IntegrationKey | None:
    """The live integration key this token proves, else None."""
    row = _proven_integration_key(conn, token)
    if row is None:
        return None
    if row["stale"]:
        conn.execute("UPDATE integration_keys SET last_used_at = now() WHERE id = %s", (row["id"],))
    return IntegrationKey(row["id"], row["service_id"], row["type"])


def integration_key_is_live(conn: psycopg.Connection[Any], token: str, key_type: str) -> bool:
    """Whether `token` proves a live integration key of `key_type`; reads, writes nothing."""
    row = _proven_integration_key(conn, token)
    return row is not None and row["type"] == key_type


def integration_url(public_url: str, key_type: str, token: str) -> str:
    """The ingest URL a sender should call, token included (GoAlert's form)."""
    path = {
        "generic": "/api/v2/generic/incoming",
        "grafana": "/api/v2/grafana/incoming",
        "prometheusAlertmanager": "/api/v2/prometheusalertmanager/incoming",
        "email": "/api/v2/generic/incoming",
    }[key_type]
    return f"{public_url}{path}?token={token}"


# ---- listing, reading and revoking (the REST API; secrets are never returned) -----------------

API_KEY_COLUMNS = "id::text AS id, name, scope, created_at, last_used_at, revoked_at"
INTEGRATION_KEY_COLUMNS = (
    "id::text AS id, service_id::text AS service_id, type, name, created_at, last_used_at, "
    "revoked_at"
)


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


def list_integration_keys(
    conn: psycopg.Connection[Any],
    service_id: str,
    after: tuple[str, str] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """A service's integration keys, revoked ones included, ordered by (created_at, id)."""
    return keyset_page(
        conn,
        INTEGRATION_KEY_COLUMNS,
        "integration_keys",
        after,
        limit,
        "service_id = %(service_id)s",
        service_id=service_id,
    )


def get_integration_key(
    conn: psycopg.Connection[Any], service_id: str, key_id: str
) -> dict[str, Any] | None:
    found = conn.execute(
        f"SELECT {INTEGRATION_KEY_COLUMNS} FROM integration_keys WHERE id = %s AND service_id = %s",
        (key_id, service_id),
    ).fetchone()
    return dict(found) if found else None


def revoke_integration_key(conn: psycopg.Connection[Any], service_id: str, key_id: str) -> bool:
    """Revoke an integration key: its token stops working with this commit."""
    return (
        conn.execute(
            "UPDATE integration_keys SET revoked_at = coalesce(revoked_at, now()) "
            "WHERE id = %s AND service_id = %s",
            (key_id, service_id),
        ).rowcount
        > 0
    )
