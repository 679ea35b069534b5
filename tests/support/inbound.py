"""Small builders for the inbound tests (links, Twilio, Slack, metrics): people and alerts."""

from __future__ import annotations

import secrets
from typing import Any

import psycopg

from app.alerts import store
from app.directory import users


def make_user(conn: psycopg.Connection[Any], name: str = "Ada") -> dict[str, Any]:
    return users.create_user(conn, name, f"{name.lower()}-{secrets.token_hex(4)}@example.com")


def make_contact_method(
    conn: psycopg.Connection[Any], user_id: str, type_: str = "sms", address: str | None = None
) -> str:
    """A verified contact method; its id. SMS/voice get a random +1555 number by default."""
    if address is None:
        address = f"+1555{secrets.randbelow(10**7):07d}"
    row = conn.execute(
        "INSERT INTO contact_methods (user_id, name, type, address, verified_at, signing_secret) "
        "VALUES (%s, %s, %s, %s, now(), %s) RETURNING id::text AS id",
        (user_id, f"{type_} {address}", type_, address, "s" if type_ == "webhook" else None),
    ).fetchone()
    assert row is not None
    return str(row["id"])


def make_alert(conn: psycopg.Connection[Any], service_id: str, summary: str = "disk full") -> int:
    return store.raise_alert(conn, service_id, summary, dedup=secrets.token_hex(6)).alert_id


def alert_state(conn: psycopg.Connection[Any], alert_id: int) -> tuple[str, list[dict[str, Any]]]:
    """The alert's status and its whole log (event, actor, meta), for before/after checks."""
    alert = store.get_alert(conn, alert_id)
    assert alert is not None
    log = [
        {k: entry[k] for k in ("event", "actor_type", "actor_id", "meta")} for entry in alert["log"]
    ]
    return alert["status"], log


def twilio_sign(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's request signature, written independently of app.http.twilio_signature so the two
    cannot share a mistake (tests/unit/test_twilio_signature.py checks both against Twilio's
    documented example)."""
    import base64
    import hashlib
    import hmac

    data = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    mac = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()
