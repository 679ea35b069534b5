"""How to reach people: contact methods, their verification codes, and notification rules.

A verification code is six random digits; only an HMAC-SHA256 of it (keyed with the secret key
and bound to the contact method) is stored, with an expiry and a bounded number of attempts.
The code itself travels only in the `verification` message's payload, which the worker scrubs
once sent. Connections must use the dict row factory.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

import psycopg

from app.messages import create
from app.sql_fragments import EVENTS_CHANNEL, keyset_page, update_row

CODE_TTL = timedelta(minutes=15)  # real minutes: a person types the code, not the engine
RESEND_AFTER = timedelta(seconds=60)  # a new code at most this often per contact method
MAX_CODE_ATTEMPTS = 5  # wrong guesses before a code is void (10^6 codes: 5 guesses are safe)

CM_COLUMNS = (
    "id::text AS id, user_id::text AS user_id, name, type, address, "
    "verified_at IS NOT NULL AS verified, verified_at, disabled, "
    "stopped_at IS NOT NULL AS stopped, status_updates, created_at, updated_at"
)
RULE_COLUMNS = (
    "id::text AS id, user_id::text AS user_id, contact_method_id::text AS contact_method_id, "
    "delay_minutes, created_at"
)


def code_hash(secret_key: str, contact_method_id: str, code: str) -> bytes:
    message = f"{contact_method_id}:{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).digest()


# ---- contact methods ---------------------------------------------------------------------------


def create_contact_method(
    conn: psycopg.Connection[Any],
    user_id: str,
    name: str,
    kind: str,
    address: str,
    status_updates: bool,
) -> dict[str, Any]:
    """Insert an unverified contact method; webhooks get a signing secret (in the result only)."""
    secret = secrets.token_urlsafe(32) if kind == "webhook" else None
    row = conn.execute(
        "INSERT INTO contact_methods (user_id, name, type, address, signing_secret, "
        f"status_updates) VALUES (%s, %s, %s, %s, %s, %s) RETURNING {CM_COLUMNS}",
        (user_id, name, kind, address, secret, status_updates),
    ).fetchone()
    assert row is not None
    return {**row, "signing_secret": secret}


def list_contact_methods(
    conn: psycopg.Connection[Any], user_id: str, after: tuple[str, str] | None, limit: int
) -> list[dict[str, Any]]:
    return keyset_page(
        conn, CM_COLUMNS, "contact_methods", after, limit, "user_id = %(user_id)s", user_id=user_id
    )


def get_contact_method(
    conn: psycopg.Connection[Any], user_id: str, cm_id: str, lock: bool = False
) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {CM_COLUMNS} FROM contact_methods WHERE id = %s AND user_id = %s"
        + (" FOR UPDATE" if lock else ""),
        (cm_id, user_id),
    ).fetchone()
    return dict(row) if row else None


def update_contact_method(
    conn: psycopg.Connection[Any], user_id: str, cm_id: str, changes: dict[str, Any]
) -> dict[str, Any] | None:
    """Apply `changes` (name, address, disabled, status_updates). A new address is unverified
    and not STOPped (the STOP came from the old number)."""
    if "address" in changes:
        changes = {**changes, "verified_at": None, "stopped_at": None}
    return update_row(
        conn,
        "contact_methods",
        CM_COLUMNS,
        "id = %(id)s AND user_id = %(user_id)s",
        {"id": cm_id, "user_id": user_id},
        changes,
    )


def delete_contact_method(conn: psycopg.Connection[Any], user_id: str, cm_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM contact_methods WHERE id = %s AND user_id = %s", (cm_id, user_id)
        ).rowcount
        > 0
    )


# ---- verification ------------------------------------------------------------------------------


def last_code_age(conn: psycopg.Connection[Any], cm_id: str) -> timedelta | None:
    """How long ago the current code was made (None: there is none)."""
    row = conn.execute(
        "SELECT now() - created_at AS age FROM contact_method_verifications "
        "WHERE contact_method_id = %s",
        (cm_id,),
    ).fetchone()
    return None if row is None else row["age"]


def send_code(conn: psycopg.Connection[Any], secret_key: str, cm_id: str, max_attempts: int) -> int:
    """Replace the method's code with a new one and queue the message carrying it; the message
    id. Same transaction as the caller's: no code without its message, and vice versa."""
    code = f"{secrets.randbelow(10**6):06d}"
    conn.execute(
        """
        INSERT INTO contact_method_verifications (contact_method_id, code_hash, expires_at)
        VALUES (%(id)s, %(hash)s, now() + %(ttl)s)
        ON CONFLICT (contact_method_id) DO UPDATE
           SET code_hash = EXCLUDED.code_hash, attempts = 0,
               expires_at = EXCLUDED.expires_at, created_at = now()
        """,
        {"id": cm_id, "hash": code_hash(secret_key, cm_id, code), "ttl": CODE_TTL},
    )
    message_id = create.to_contact_method(
        conn,
        "verification",
        cm_id,
        dedup_key=f"verify:{cm_id}:{uuid4().hex}",
        max_attempts=max_attempts,
        payload={"code": code},
    )
    assert message_id is not None  # a fresh dedup key, and the method is locked by the caller
    return message_id


@dataclass(frozen=True)
class Verdict:
    """What checking a code found: `outcome` is verified | wrong | void | expired | none."""

    outcome: str
    attempts_left: int = 0


def check_code(conn: psycopg.Connection[Any], secret_key: str, cm_id: str, code: str) -> Verdict:
    """Check `code` against the method's current one. A match marks the method verified and
    deletes the code; a miss counts an attempt (the caller must commit it)."""
    row = conn.execute(
        "SELECT code_hash, attempts, expires_at <= now() AS expired "
        "FROM contact_method_verifications WHERE contact_method_id = %s FOR UPDATE",
        (cm_id,),
    ).fetchone()
    if row is None:
        return Verdict("none")
    if row["attempts"] >= MAX_CODE_ATTEMPTS:
        return Verdict("void")
    if row["expired"]:
        return Verdict("expired")
    if not hmac.compare_digest(bytes(row["code_hash"]), code_hash(secret_key, cm_id, code)):
        conn.execute(
            "UPDATE contact_method_verifications SET attempts = attempts + 1 "
            "WHERE contact_method_id = %s",
            (cm_id,),
        )
        return Verdict("wrong", MAX_CODE_ATTEMPTS - row["attempts"] - 1)
    conn.execute("DELETE FROM contact_method_verifications WHERE contact_method_id = %s", (cm_id,))
    conn.execute(
        "UPDATE contact_methods SET verified_at = now(), updated_at = now() WHERE id = %s",
        (cm_id,),
    )
    return Verdict("verified")


# ---- notification rules ------------------------------------------------------------------------


def create_rule(
    conn: psycopg.Connection[Any], user_id: str, cm_id: str, delay_minutes: int
) -> dict[str, Any]:
    row = conn.execute(
        "INSERT INTO notification_rules (user_id, contact_method_id, delay_minutes) "
        f"VALUES (%s, %s, %s) RETURNING {RULE_COLUMNS}",
        (user_id, cm_id, delay_minutes),
    ).fetchone()
    assert row is not None
    _recheck_engagements(conn, user_id)
    return dict(row)


def _recheck_engagements(conn: psycopg.Connection[Any], user_id: str) -> None:
    """The user's active engagements are looked at again (the engine is woken on commit), so a
    rule added while they are engaged fires at its moment even when no other rule was pending."""
    rechecked = conn.execute(
        "UPDATE alert_engagements SET next_rule_at = now() WHERE user_id = %s AND active",
        (user_id,),
    ).rowcount
    if rechecked:
        conn.execute(
            f"SELECT pg_notify('{EVENTS_CHANNEL}', json_build_object("
            "'user_id', %s::text, 'event', 'notification_rule_added')::text)",
            (user_id,),
        )


def list_rules(
    conn: psycopg.Connection[Any], user_id: str, after: tuple[str, str] | None, limit: int
) -> list[dict[str, Any]]:
    return keyset_page(
        conn,
        RULE_COLUMNS,
        "notification_rules",
        after,
        limit,
        "user_id = %(user_id)s",
        user_id=user_id,
    )


def get_rule(conn: psycopg.Connection[Any], user_id: str, rule_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {RULE_COLUMNS} FROM notification_rules WHERE id = %s AND user_id = %s",
        (rule_id, user_id),
    ).fetchone()
    return dict(row) if row else None


def delete_rule(conn: psycopg.Connection[Any], user_id: str, rule_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM notification_rules WHERE id = %s AND user_id = %s", (rule_id, user_id)
        ).rowcount
        > 0
    )


# STOP/START (an SMS reply) apply to the number, so to its voice method too (carriers opt out a
# number, not a method).
_STOP_NUMBER = """
UPDATE contact_methods SET stopped_at = now(), updated_at = now()
WHERE type IN ('sms', 'voice') AND lower(address) = lower(%s) AND stopped_at IS NULL
RETURNING id
"""
_RESTART_NUMBER = """
UPDATE contact_methods SET stopped_at = NULL, updated_at = now()
WHERE type IN ('sms', 'voice') AND lower(address) = lower(%s) AND stopped_at IS NOT NULL
RETURNING id
"""


def stop_number(conn: psycopg.Connection[Any], number: str) -> int:
    """Stop sending to `number` (its SMS and voice methods); how many methods stopped now."""
    return len(conn.execute(_STOP_NUMBER, (number,)).fetchall())


def restart_number(conn: psycopg.Connection[Any], number: str) -> int:
    """Send to a stopped `number` again; how many methods started again now."""
    return len(conn.execute(_RESTART_NUMBER, (number,)).fetchall())
