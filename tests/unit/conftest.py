"""The unit tier runs without servers: no test here may use a fixture that starts Postgres, Redis
or a Klaxon process (pytest tests/unit must pass on a machine with neither). Logic that only
reads or writes Redis keys is tested against fakeredis."""

from __future__ import annotations

from pathlib import Path

import pytest

# The shared fixtures (tests/conftest.py) that start or need a server, directly or through others.
SERVER_FIXTURES = frozenset(
    {
        "pg_admin_url",
        "template_database",
        "database_pool",
        "database_url",
        "empty_database_url",
        "db_proxy",
        "redis_server",
        "process_redis",
        "redis_url",
        "klaxon_env",
        "settings_for",
        "spawn",
        "web_app",
        "client",
        "db_conn",
        "make_service",
        "make_api_key",
        "webhook_receiver",
        "smtp_server",
        "fake_twilio",
        "fake_slack",
    }
)

UNIT = Path(__file__).parent


def servers_used(item: pytest.Item) -> set[str]:
    return SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(UNIT):
            used = servers_used(item)
            if used:
                raise pytest.UsageError(
                    f"{item.nodeid} is a unit test but uses server fixtures {sorted(used)}: "
                    "move it to tests/integration, or use fakeredis"
                )
