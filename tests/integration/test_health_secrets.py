"""Health and readiness outputs name hosts and ports, never a password or a whole URL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from config.settings import Settings
from tests.support.net import closed_port
from tests.support.wait import wait_until

DB_PASSWORD = "Pg-s3cret-Passw0rd"
REDIS_PASSWORD = "Redis-s3cret-Passw0rd"


@pytest.fixture
def client(settings_for: Callable[..., Settings]) -> Iterator[Any]:
    from app import create_app

    db_port, redis_port = closed_port(), closed_port()
    database_url = f"postgresql://klaxon:{DB_PASSWORD}@127.0.0.1:{db_port}/klaxon"
    redis_url = f"redis://default:{REDIS_PASSWORD}@127.0.0.1:{redis_port}/0"
    app = create_app(
        settings_for(DATABASE_URL=database_url, REDIS_URL=redis_url, KLAXON_CHECK_TIMEOUT="1")
    )
    app.config["TESTING"] = True
    app.urls = (database_url, redis_url, db_port, redis_port)  # type: ignore[attr-defined]
    yield app.test_client()
    app.extensions["klaxon"].stop()


def failing_outputs(client: Any, path: str) -> str:
    """The body of `path` once its checks have failed (not merely started)."""
    seen: dict[str, str] = {}

    def failed() -> bool:
        response = client.get(path)
        seen["body"] = response.get_data(as_text=True)
        checks = response.get_json()["checks"]
        return all(checks[n][0]["status"] == "fail" for n in ("database", "redis"))

    wait_until(failed, 10, f"{path} to report the failures")
    return seen["body"]


@pytest.mark.parametrize("path", ["/readyz", "/healthz"])
def test_health_outputs_carry_no_password_or_url(client, path):
    client.post("/api/v1/services")  # a failed credential: the limiter's store is asked, and fails
    database_url, redis_url, db_port, redis_port = client.application.urls
    body = failing_outputs(client, path)
    for secret in (DB_PASSWORD, REDIS_PASSWORD, database_url, redis_url, "postgresql://"):
        assert secret not in body
    assert "redis://" not in body
    assert str(db_port) in body and str(redis_port) in body  # host and port are fine
