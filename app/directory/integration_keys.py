"""Integration keys: a service's ingest credential, one per sender type, shown once and
verified by id + hash."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

import psycopg

from app.platform import tokens
from app.platform.sql_fragments import keyset_page

INTEGRATION_TYPES = ("generic", "grafana", "prometheusAlertmanager", "email")


@dataclass(frozen=True)
class IntegrationKey:
    id: str
    service_id: str
    type: str


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
        (tokens.LAST_USED_RESOLUTION, key_id),
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


def mark_used_sql(key_id: str) -> str:
    """An UPDATE noting the use of the key the SQL `key_id` names (at most once per
    LAST_USED_RESOLUTION seconds): the body of a CTE in the ingest fast path's statement."""
    return (
        f"UPDATE integration_keys SET last_used_at = now() WHERE id = ({key_id})\n"
        "  AND (last_used_at IS NULL\n"
        f"       OR last_used_at < now() - interval '{tokens.LAST_USED_RESOLUTION} s')"
    )


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


def test_alert_curl(url: str) -> str:
    """A copy-paste curl that raises a test alert through the generic ingest URL `url`."""
    return (
        "curl -X POST -H 'Accept: application/json' "
        "--data-urlencode 'summary=Test alert from Klaxon' "
        "--data-urlencode 'details=Sent with curl to check the integration.' "
        f"{shlex.quote(url)}"
    )


INTEGRATION_KEY_COLUMNS = (
    "id::text AS id, service_id::text AS service_id, type, name, created_at, last_used_at, "
    "revoked_at"
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
