"""The `oidc_identities` table: which Klaxon user an identity provider's account signs in as,
keyed by (issuer, subject) — never by email, which can change hands at the provider."""

from __future__ import annotations

from typing import Any

import psycopg

MAX_EMAIL = 320  # the column's bound


def lock_account(conn: psycopg.Connection[Any], issuer: str, key: str) -> None:
    """Serialise, until commit, the first sign-ins that would link or create the same account
    (two tabs, a double click): the second sees what the first wrote."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"oidc:{issuer}:{key}",))


def linked_user(conn: psycopg.Connection[Any], issuer: str, subject: str) -> str | None:
    """The id of the user this account signs in as, if it is linked; notes the sign-in."""
    row = conn.execute(
        "UPDATE oidc_identities SET last_signed_in_at = now() "
        "WHERE issuer = %s AND subject = %s RETURNING user_id::text AS user_id",
        (issuer, subject),
    ).fetchone()
    return row["user_id"] if row else None


def link(
    conn: psycopg.Connection[Any], issuer: str, subject: str, user_id: str, email: str
) -> None:
    """Link the account (issuer, subject) to `user_id`."""
    conn.execute(
        "INSERT INTO oidc_identities (issuer, subject, user_id, email) VALUES (%s, %s, %s, %s)",
        (issuer, subject, user_id, email[:MAX_EMAIL]),
    )
