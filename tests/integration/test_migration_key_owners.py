"""Migration 0008_teams_ownership: API keys made before keys had owners become service keys and
keep working with exactly the scope they had."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from alembic import command
from psycopg.rows import dict_row
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from app import create_app
from app.platform import migrate, tokens
from config.settings import Settings
from tests.support.api import Api

BEFORE = "0007_signin_sessions"


def upgrade(url: str, revision: str) -> None:
    with psycopg.connect(url) as conn:
        engine = create_engine("postgresql+psycopg://", creator=lambda: conn, poolclass=StaticPool)
        config = migrate._config()
        with engine.connect() as sa_conn:
            config.attributes["connection"] = sa_conn
            command.upgrade(config, revision)
            sa_conn.commit()
        engine.dispose()


def todays_key(conn: psycopg.Connection[Any], scope: str) -> str:
    """A key as revision 0007's code made it: no owner columns exist yet."""
    new = tokens.new_token(tokens.API_KEY_PREFIX)
    conn.execute(
        "INSERT INTO api_keys (id, name, scope, secret_hash) VALUES (%s, %s, %s, %s)",
        (new.id, f"old {scope}", scope, new.secret_hash),
    )
    return new.token


def test_keys_from_before_owners_keep_working_with_their_scope(
    empty_database_url: str, settings_for: Callable[..., Settings]
) -> None:
    upgrade(empty_database_url, BEFORE)
    with psycopg.connect(empty_database_url, autocommit=True, row_factory=dict_row) as conn:
        keys = {scope: todays_key(conn, scope) for scope in ("read", "write", "admin")}
        user = conn.execute(
            "INSERT INTO users (name, email) VALUES ('u', 'u@example.com') RETURNING id::text"
        ).fetchone()
    upgrade(empty_database_url, "head")
    app = create_app(settings_for(DATABASE_URL=empty_database_url))
    try:
        client = app.test_client()
        api = {scope: Api(client, key) for scope, key in keys.items()}
        for scope, caller in api.items():
            me = caller.get("/me").get_json()
            assert me["scope"] == scope
            assert me["api_key"]["owner_user_id"] is None
            assert me["api_key"]["owner_team_id"] is None
            assert caller.get("/services").status_code == 200
        assert api["read"].post("/services", json={"name": "r"}).status_code == 403
        # A service key acts like an admin within its scope: no team needed.
        assert api["write"].post("/services", json={"name": "w"}).status_code == 201
        assert api["admin"].post("/services", json={"name": "a"}).status_code == 201
        sessions = f"/users/{user['id']}/sessions"
        assert api["write"].get(sessions).status_code == 403
        assert api["admin"].get(sessions).status_code == 200
        listed = api["admin"].get("/api-keys").get_json()["items"]
        assert sorted(key["scope"] for key in listed) == ["admin", "read", "write"]
    finally:
        app.extensions["klaxon"].stop()
