"""Signing in with an email and a password, and changing the password.

A wrong email, a user without a password, a disabled user and a wrong password all answer the
same None, after the same Argon2 verification (app.directory.passwords checks a dummy hash when
there is no real one), so neither the answer nor its timing tells which accounts exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from app.directory import passwords, sessions, signin_links, users
from config.settings import SessionSettings


@dataclass(frozen=True)
class SignedIn:
    user: dict[str, Any]  # USER_COLUMNS
    session: dict[str, Any]  # SESSION_COLUMNS
    token: str  # for the cookie; shown once


def check_credentials(
    conn: psycopg.Connection[Any], email: str, password: str
) -> dict[str, Any] | None:
    """The user (USER_COLUMNS) these credentials prove, else None. A hash made with older
    parameters is replaced by a fresh one."""
    found = users.credentials_by_email(conn, email)
    stored = found["password_hash"] if found and found["disabled_at"] is None else None
    verified = passwords.verify(stored, password)  # always run: the same work for every answer
    if found is None or not verified:
        return None
    assert stored is not None  # verify() is False without a hash
    if passwords.needs_rehash(stored):
        users.set_password_hash(conn, found["id"], passwords.rehash(password))
    return {k: v for k, v in found.items() if k != "password_hash"}


def start_session(
    conn: psycopg.Connection[Any],
    user: dict[str, Any],
    lifetime: SessionSettings,
    user_agent: str = "",
    address: str = "",
) -> SignedIn:
    """A new session for `user` (as check_credentials returned it)."""
    session, token = sessions.create_session(
        conn, user["id"], lifetime.idle, lifetime.max, user_agent, address
    )
    return SignedIn(user, session, token)


def change_password(
    conn: psycopg.Connection[Any],
    user_id: str,
    current: str,
    new: str,
    keep_session: str | None,
) -> bool:
    """Set `new` as the user's password if `current` is right (False otherwise), and end every
    other session of theirs. Raises passwords.WeakPassword for an unacceptable `new`."""
    passwords.check_acceptable(new)
    if not passwords.verify(users.password_hash(conn, user_id), current):
        return False
    users.set_password_hash(conn, user_id, passwords.hash_password(new))
    sessions.revoke_user_sessions(conn, user_id, keep=keep_session)
    return True


def set_password_with_link(
    conn: psycopg.Connection[Any],
    link: dict[str, Any],
    new: str,
    lifetime: SessionSettings,
    user_agent: str = "",
    address: str = "",
) -> SignedIn | None:
    """Use a live sign-in link (an invitation or a password reset, as signin_links.find gave
    it): set `new` as its user's password, end every session of theirs and start a fresh one.
    None when the link died in the meantime. Raises passwords.WeakPassword first."""
    passwords.check_acceptable(new)
    if not signin_links.use(conn, link["id"]):
        return None
    users.set_password_hash(conn, link["user_id"], passwords.hash_password(new))
    sessions.revoke_user_sessions(conn, link["user_id"])
    user = users.get_user(conn, link["user_id"])
    assert user is not None  # the link's row joined it, and the row is locked by the update
    return start_session(conn, user, lifetime, user_agent, address)
