"""Fatal init reports in a real Redis: written, listed, cleared, and expiring."""

from __future__ import annotations

import json

from redis import Redis

from app.platform.fatal import clear_fatal, fatal_key, list_fatal, report_fatal
from config.settings import RedisTls
from tests.support.net import closed_port


def test_report_list_and_clear(redis_url):
    client = Redis.from_url(redis_url)
    assert report_fatal(
        redis_url, "worker", "worker.1", "redis", "boom", ttl=60, timeout=2, tls=RedisTls()
    )
    raw = client.get(fatal_key("worker", "worker.1"))
    report = json.loads(raw)
    assert set(report) == {"process", "instance", "check", "error", "at", "pid", "host"}
    assert 0 < client.ttl(fatal_key("worker", "worker.1")) <= 60
    assert [r["error"] for r in list_fatal(client)] == ["boom"]

    clear_fatal(client, "worker", "worker.1")
    assert list_fatal(client) == []


def test_reporting_to_a_dead_redis_returns_false_quickly():
    assert not report_fatal(
        f"redis://127.0.0.1:{closed_port()}/0",
        "engine",
        "e.1",
        "redis",
        "down",
        ttl=60,
        timeout=1,
        tls=RedisTls(),
    )
