"""Users who can sign in, and signing them in through the real endpoints."""

from __future__ import annotations

import secrets
from typing import Any

import psycopg

PASSWORD = "correct horse battery staple"


def make_user(
    conn: psycopg.Connection[Any],
    role: str = "user",
    password: str | None = PASSWORD,
    email: str | None = None,
) -> dict[str, Any]:
    """A user with `password` (None: without one)."""
    from app.directory import passwords, users

    user = users.create_user(
        conn, f"{role} {secrets.token_hex(2)}", email or f"{secrets.token_hex(4)}@example.com", role
    )
    if password is not None:
        users.set_password_hash(conn, user["id"], passwords.hash_password(password))
    return user


def sign_in(client: Any, email: str, password: str = PASSWORD, **kwargs: Any) -> Any:
    """POST /auth/login as JSON; the test client keeps the cookie."""
    return client.post("/auth/login", json={"email": email, "password": password}, **kwargs)


def signed_in(client: Any, user: dict[str, Any]) -> str:
    """Sign `user` in on `client`; the session's CSRF token."""
    response = sign_in(client, user["email"])
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["csrf_token"])


def admin_sign_in(client: Any, email: str, password: str = PASSWORD, **kwargs: Any) -> Any:
    """POST /admin/login's form, as the page sends it."""
    return client.post("/admin/login", data={"email": email, "password": password}, **kwargs)
