"""Invitations: an admin names a person by email; Klaxon makes the user (without a password)
and a one-time link with which they choose one (app.directory.signin_links).

Inviting an email that already belongs to a user without a password invites that user (a
re-invitation: the new link voids the old one). A user who already has a password, or is
disabled, is not invited: they sign in, or reset their password, or are enabled first.
"""

from __future__ import annotations

from typing import Any

import psycopg

from app.directory import signin_links, users

PURPOSE = "invitation"


class NotInvitable(ValueError):
    """This email belongs to a user an invitation cannot be for; the message says why."""


def invite(
    conn: psycopg.Connection[Any],
    secret_key: str,
    ttl: int,
    name: str,
    email: str,
    role: str = "user",
    invited_by: str | None = None,
) -> tuple[signin_links.Issued, bool]:
    """A new invitation link for `email` (the user is created when new); and whether the user
    was created (False: an existing user without a password, re-invited)."""
    found = users.credentials_by_email(conn, email)
    if found is not None:
        if found["password_hash"] is not None:
            raise NotInvitable(
                f"{email} already has a password: they sign in, or reset it at /auth/password-reset"
            )
        if found["disabled_at"] is not None:
            raise NotInvitable(f"{email} is disabled: enable the user first")
        issued = signin_links.issue(conn, secret_key, found["id"], PURPOSE, ttl, invited_by)
        return issued, False
    user = users.create_user(conn, name, email, role)
    return signin_links.issue(conn, secret_key, user["id"], PURPOSE, ttl, invited_by), True
