"""Verification codes: a contact method pages only after its owner typed the code sent to it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

import psycopg

from app.contacts import contact_methods
from app.messages import create

CODE_TTL = timedelta(minutes=15)  # real minutes: a person types the code, not the engine
RESEND_AFTER = timedelta(seconds=60)  # a new code at most this often per contact method
MAX_CODE_ATTEMPTS = 5  # wrong guesses before a code is void (10^6 codes: 5 guesses are safe)


def code_hash(secret_key: str, contact_method_id: str, code: str) -> bytes:
    message = f"{contact_method_id}:{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).digest()


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
    contact_methods.mark_verified(conn, cm_id)
    return Verdict("verified")
