"""Password resets: a one-time link, emailed to a user who asks, with which they choose a new
password (app.directory.signin_links).

Asking reveals nothing: an unknown email, a disabled user and a user without a password get no
link, and the caller answers every request the same way. A user without a password signs in
only once an admin invites them (app.directory.invitations): a reset must not turn a person an
admin set up to be paged only into one who signs in.
"""

from __future__ import annotations

from typing import Any

import psycopg

from app.directory import signin_links, users

PURPOSE = "password_reset"


def request_reset(
    conn: psycopg.Connection[Any], secret_key: str, ttl: int, email: str
) -> signin_links.Issued | None:
    """A reset link for the user with `email`, or None (no such user, disabled, or without a
    password)."""
    found = users.credentials_by_email(conn, email)
    if found is None or found["disabled_at"] is not None or found["password_hash"] is None:
        return None
    return signin_links.issue(conn, secret_key, found["id"], PURPOSE, ttl)
