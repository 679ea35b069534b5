"""What authentication costs a `GET /api/v1/alerts` page of 50: an API key against a session.

Builds the real Flask app (no gunicorn, no network: the figure is the app's own work and its
database round trips) on a fresh, migrated database holding 60 alerts, then times `--requests`
requests of one page of 50 alerts with an admin API key and with a signed-in admin's session
cookie, interleaved so that both see the same machine. Apart from the requests it times the two
lookups themselves on one connection: `api_keys.verify_api_key` (one indexed SELECT and a
SHA-256) and `sessions.live_session` (one indexed SELECT joining the user).

Usage: .venv/bin/python bench/auth_cost.py [--requests 400]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import psycopg
from common import Figure, fmt, percentile, print_table, run_benchmark, services
from psycopg.rows import dict_row

from app import create_app
from app.alerts import store
from app.directory import api_keys, passwords, sessions, users
from app.directory import services as service_store
from config.logging import configure_logging
from config.settings import load_settings

NAME = "auth_cost"
PASSWORD = "bench passphrase"
ALERTS = 60
PAGE = "/api/v1/alerts?limit=50"


def seed(database_url: str) -> tuple[str, str]:
    """60 alerts, an admin key and an admin user with a password: (key token, user email)."""
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        service = service_store.create_service(conn, "bench service")["id"]
        for n in range(ALERTS):
            store.raise_alert(conn, service, f"bench alert {n}")
        key = str(api_keys.create_api_key(conn, "bench", "admin")["key"])
        user = users.create_user(conn, "Bench Admin", "bench@example.com", "admin")
        users.set_password_hash(conn, user["id"], passwords.hash_password(PASSWORD))
    return key, "bench@example.com"


def timed(call: Callable[[], Any], count: int) -> list[float]:
    """Milliseconds each of `count` calls took."""
    took = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        took.append((time.perf_counter() - started) * 1000)
    return took


def request_times(client: Any, key: str, count: int) -> tuple[list[float], list[float]]:
    """Interleaved page requests: (with the key, with the session cookie)."""

    def with_key() -> None:
        client.delete_cookie("klaxon_session")
        response = client.get(PAGE, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200 and len(response.get_json()["items"]) == 50

    def with_session(cookie: str) -> Callable[[], None]:
        def call() -> None:
            client.set_cookie("klaxon_session", cookie)
            response = client.get(PAGE)
            assert response.status_code == 200 and len(response.get_json()["items"]) == 50

        return call

    signed = client.post("/auth/login", json={"email": "bench@example.com", "password": PASSWORD})
    assert signed.status_code == 200, signed.get_json()
    cookie = client.get_cookie("klaxon_session").value
    session_call = with_session(cookie)
    for warm in (with_key, session_call):
        timed(warm, 20)
    keyed: list[float] = []
    by_session: list[float] = []
    for _ in range(count):
        keyed += timed(with_key, 1)
        by_session += timed(session_call, 1)
    return keyed, by_session


def lookup_times(database_url: str, key: str, count: int) -> tuple[list[float], list[float]]:
    """The two lookups alone on one connection: (API key, session)."""
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        user = users.credentials_by_email(conn, "bench@example.com")
        assert user is not None
        _row, token = sessions.create_session(conn, user["id"], 3600, 7200)
        key_times = timed(lambda: api_keys.verify_api_key(conn, key), count)
        session_times = timed(lambda: sessions.live_session(conn, token, 3600), count)
    return key_times, session_times


def body(count: int) -> list[Figure]:
    with services(NAME) as stack:
        key, _email = seed(stack.database_url)
        configure_logging("warning")  # a line per request would drown the figures
        app = create_app(load_settings(stack.env()))
        try:
            keyed, by_session = request_times(app.test_client(), key, count)
        finally:
            app.extensions["klaxon"].stop()
        key_lookup, session_lookup = lookup_times(stack.database_url, key, count)
    rows = [
        ("GET page of 50, API key", keyed),
        ("GET page of 50, session", by_session),
        ("API key lookup alone", key_lookup),
        ("session lookup alone", session_lookup),
    ]
    print_table(
        f"{count} each",
        ("what", "p50", "p90", "p99"),
        [
            (name, fmt(percentile(v, 50), "ms"), fmt(percentile(v, 90), "ms"),
             fmt(percentile(v, 99), "ms"))
            for name, v in rows
        ],
    )  # fmt: skip
    difference = percentile(by_session, 50) - percentile(keyed, 50)
    return [
        Figure(NAME, "p50 GET page of 50, API key", percentile(keyed, 50), "ms"),
        Figure(NAME, "p50 GET page of 50, session", percentile(by_session, 50), "ms"),
        Figure(NAME, "p50 session minus API key", difference, "ms", target=2.0),
        Figure(NAME, "p50 API key lookup", percentile(key_lookup, 50), "ms"),
        Figure(NAME, "p50 session lookup", percentile(session_lookup, 50), "ms"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    return run_benchmark(NAME, lambda: body(args.requests))


if __name__ == "__main__":
    raise SystemExit(main())
