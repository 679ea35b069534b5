"""Preflight against real Postgres and Redis: healthy, down, hanging and misconfigured peers."""

from __future__ import annotations

import time

from app.platform.preflight import run_preflight
from tests.support.net import Tarpit, closed_port


def statuses(report):
    return {r.check: r.status for r in report.results}


def test_preflight_passes_against_healthy_services(settings_for):
    report = run_preflight(settings_for())
    assert statuses(report) == {
        "config": "pass",
        "database": "pass",
        "redis": "pass",
        "listener": "pass",
        "schema": "pass",
    }
    assert report.passed


def test_preflight_applies_pending_migrations_in_auto_mode(settings_for, empty_database_url):
    report = run_preflight(settings_for(DATABASE_URL=empty_database_url))
    assert statuses(report)["schema"] == "pass"


def test_preflight_check_mode_names_the_command_to_run(settings_for, empty_database_url):
    report = run_preflight(settings_for(DATABASE_URL=empty_database_url, KLAXON_MIGRATE="check"))
    schema = next(r for r in report.results if r.check == "schema")
    assert schema.status == "fail"
    assert "run `klaxon migrate`" in schema.error


def test_database_tarpit_fails_within_the_check_timeout(settings_for):
    with Tarpit() as tarpit:
        url = f"postgresql://postgres@127.0.0.1:{tarpit.port}/klaxon"
        started = time.monotonic()
        report = run_preflight(settings_for(DATABASE_URL=url, KLAXON_CHECK_TIMEOUT="1"))
        elapsed = time.monotonic() - started
    database = next(r for r in report.results if r.check == "database")
    assert database.status == "fail"
    assert f"127.0.0.1:{tarpit.port} timed out after 1s" in database.error
    assert "DATABASE_URL" in database.error
    assert statuses(report)["schema"] == "skip"
    assert elapsed < 1 + 1.5  # database (1 s) + redis (fast); the listener is skipped


def test_redis_closed_port_names_redis_url(settings_for):
    port = closed_port()
    report = run_preflight(settings_for(REDIS_URL=f"redis://127.0.0.1:{port}/0"))
    redis = next(r for r in report.results if r.check == "redis")
    assert redis.status == "fail"
    assert f"127.0.0.1:{port}" in redis.error and "REDIS_URL" in redis.error
