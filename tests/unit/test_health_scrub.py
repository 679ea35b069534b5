"""Health outputs are scrubbed of passwords and whole connection URLs, whatever raised them."""

from __future__ import annotations

from app.platform.health import HealthChecks
from app.platform.listener import ListenerStatus
from app.platform.ratelimit import StoreStatus
from config.settings import load_settings

DB = "postgresql://klaxon:Pg-s3cret@db.internal:6432/klaxon?sslmode=require"
REDIS = "rediss://default:Redis-s3cret@cache.internal:6380/0"


def checks() -> HealthChecks:
    settings = load_settings(
        {"DATABASE_URL": DB, "REDIS_URL": REDIS, "KLAXON_SECRET_KEY": "k" * 40}
    )
    return HealthChecks(
        settings,
        lambda: ListenerStatus(False, False, None, 0, None, 1.0),  # not asked here
        lambda: StoreStatus(None, None),
    )


def test_a_configured_url_becomes_its_host_and_port():
    scrubbed = checks()._scrub(f"could not use {DB} nor {REDIS}")
    assert scrubbed == "could not use db.internal:6432 nor cache.internal:6380"


def test_a_password_alone_is_masked():
    assert checks()._scrub("auth failed for Pg-s3cret") == "auth failed for ***"


def test_any_other_url_loses_its_user_info():
    text = "proxy said: redis://someone:hunter22@10.0.0.9:6379 refused"
    assert checks()._scrub(text) == "proxy said: redis://***@10.0.0.9:6379 refused"
