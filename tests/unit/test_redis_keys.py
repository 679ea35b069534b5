"""Logic that only reads or writes Redis keys, on fakeredis: fatal reports, the engine heartbeat,
the health verdict from worker and engine keys, queue registration, and the abuse limits' keys.
Real Redis stays for the integration and system tests, where the server's behaviour matters."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import fakeredis
import pytest
from redis import Redis
from rq import Queue, Worker

from app.platform import engine_heartbeat as heartbeat
from app.platform import fatal
from app.platform.health import HealthChecks
from app.platform.listener import ListenerStatus
from app.platform.queues import ALL_QUEUES, DEFAULT_QUEUE, NOTIFY_QUEUE
from app.platform.ratelimit import KEY_PREFIX, Limiter, RateLimited
from config.settings import RedisTls, Settings, load_settings

ENV = {
    "DATABASE_URL": "postgresql://klaxon@db.internal/klaxon",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "KLAXON_SECRET_KEY": "k" * 40,
}


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def redis(server: fakeredis.FakeServer) -> Redis:
    return fakeredis.FakeRedis(server=server)


@pytest.fixture
def settings() -> Settings:
    return load_settings(ENV)


# ---- fatal reports -------------------------------------------------------------------------


def report(redis: Redis, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> bool:
    monkeypatch.setattr(fatal, "make_redis", lambda *_args, **_kw: redis)
    args: dict[str, Any] = {
        "redis_url": ENV["REDIS_URL"],
        "process": "worker",
        "instance": "worker.1",
        "check": "smtp",
        "error": "smtp: connection refused",
        "ttl": 3600,
        "timeout": 1.0,
        "tls": RedisTls(),
    }
    return fatal.report_fatal(**(args | overrides))


def test_a_fatal_report_is_one_key_per_process_and_instance_with_its_ttl(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert report(redis, monkeypatch)
    assert redis.keys("klaxon:*") == [b"klaxon:fatal:worker:worker.1"]
    assert 3590 < redis.ttl("klaxon:fatal:worker:worker.1") <= 3600
    stored = json.loads(redis.get("klaxon:fatal:worker:worker.1"))  # type: ignore[arg-type]
    assert set(stored) == {"process", "instance", "check", "error", "at", "pid", "host"}
    assert (stored["process"], stored["check"]) == ("worker", "smtp")
    assert fatal.list_fatal(redis) == [stored]


def test_a_clean_start_clears_only_its_own_report(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    report(redis, monkeypatch)
    report(redis, monkeypatch, instance="worker.2")
    fatal.clear_fatal(redis, "worker", "worker.1")
    assert [r["instance"] for r in fatal.list_fatal(redis)] == ["worker.2"]


def test_an_unreadable_report_is_listed_as_such(redis: Redis) -> None:
    redis.set("klaxon:fatal:engine:e.1", "{not json")
    assert fatal.list_fatal(redis) == [
        {"key": "klaxon:fatal:engine:e.1", "error": "unreadable report"}
    ]


def test_a_report_redis_cannot_take_returns_false(
    server: fakeredis.FakeServer, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.connected = False
    assert report(redis, monkeypatch) is False


# ---- the engine heartbeat ------------------------------------------------------------------


def beat(cycle_ended: float, cycle_seconds: float = 5.0) -> heartbeat.Heartbeat:
    return heartbeat.Heartbeat(
        "engine.1", 42, cycle_ended - 60, cycle_ended - 0.1, cycle_ended, 7, cycle_seconds
    )


def test_the_heartbeat_round_trips_and_outlives_a_few_cycles(redis: Redis) -> None:
    assert heartbeat.read_heartbeat(redis) is None
    written = beat(time.time(), cycle_seconds=10.0)
    heartbeat.write_heartbeat(redis, written)
    assert heartbeat.read_heartbeat(redis) == written
    assert redis.ttl("klaxon:engine:heartbeat") == 31  # three 10 s cycles, and a second


def test_a_short_cycle_still_keeps_the_heartbeat_for_the_minimum_ttl(redis: Redis) -> None:
    heartbeat.write_heartbeat(redis, beat(time.time(), cycle_seconds=1.0))
    assert redis.ttl("klaxon:engine:heartbeat") == heartbeat.HEARTBEAT_MIN_TTL


# ---- the health verdict from worker, engine and queue keys -----------------------------------


@pytest.fixture
def health(settings: Settings, redis: Redis) -> HealthChecks:
    checks = HealthChecks(
        settings,
        lambda: ListenerStatus(True, True, None, 0, None, 1.0),
        lambda: Limiter(lambda: redis, settings.limits).status(),
    )
    checks._redis = redis  # what _client() would build from REDIS_URL
    return checks


def verdict(health: HealthChecks, name: str) -> dict[str, Any]:
    overall, checks = health.evaluate((name,))
    (observed,) = checks[name]
    assert observed["status"] == overall
    return dict(observed)


def register_worker(redis: Redis, queues: tuple[str, ...] = (NOTIFY_QUEUE,)) -> Worker:
    worker = Worker([Queue(q, connection=redis) for q in queues], connection=redis)
    worker.register_birth()
    worker.heartbeat()
    return worker


def test_no_engine_heartbeat_fails(health: HealthChecks) -> None:
    assert verdict(health, "engine") == {
        "status": "fail",
        "time": verdict(health, "engine")["time"],
        "output": "no engine heartbeat — is `klaxon engine` running?",
    }


def test_a_fresh_engine_heartbeat_passes_and_a_stale_one_fails(
    health: HealthChecks, redis: Redis, settings: Settings
) -> None:
    heartbeat.write_heartbeat(redis, beat(time.time()))
    fresh = verdict(health, "engine")
    assert fresh["status"] == "pass" and fresh["observedUnit"] == "s"
    assert fresh["observedValue"] < 1

    limit = 5.0 * 3 + settings.check_timeout
    heartbeat.write_heartbeat(redis, beat(time.time() - limit - 5))
    # a new HealthChecks: each one reuses a verdict for CACHE_SECONDS
    health = HealthChecks(settings, health._listener_status, health._limiter_status)
    health._redis = redis
    stale = verdict(health, "engine")
    assert stale["status"] == "fail"
    assert stale["output"].startswith("engine heartbeat is ")
    assert stale["output"].endswith(f"s old (limit {limit:g}s)")


def test_no_worker_on_the_notify_queue_fails_naming_it(health: HealthChecks, redis: Redis) -> None:
    register_worker(redis, (DEFAULT_QUEUE,))  # serves only the other queue
    observed = verdict(health, "workers")
    assert observed["status"] == "fail" and observed["observedValue"] == 0
    assert observed["output"] == "no live worker serves klaxon-notify — start `klaxon worker`"


def test_a_registered_worker_passes(health: HealthChecks, redis: Redis) -> None:
    register_worker(redis, ALL_QUEUES)
    register_worker(redis)
    observed = verdict(health, "workers")
    assert (observed["status"], observed["observedValue"]) == ("pass", 2)


def test_a_fatal_report_fails_the_workers_check_with_its_error(
    health: HealthChecks, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_worker(redis)
    report(redis, monkeypatch)
    observed = verdict(health, "workers")
    assert observed["status"] == "fail" and observed["observedValue"] == 1
    assert "worker@worker.1 failed to start at " in observed["output"]
    assert observed["output"].endswith(": smtp: smtp: connection refused")


def test_the_oldest_queued_job_warns_past_its_age(
    health: HealthChecks, redis: Redis, settings: Settings
) -> None:
    assert verdict(health, "queue")["status"] == "pass"
    job = Queue(NOTIFY_QUEUE, connection=redis).enqueue("workers.jobs.probe")
    old = datetime.now(UTC) - timedelta(seconds=settings.queue_warn_age + 30)
    redis.hset(f"rq:job:{job.id}", "enqueued_at", old.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    # a new HealthChecks: each one reuses a verdict for CACHE_SECONDS
    health = HealthChecks(settings, health._listener_status, health._limiter_status)
    health._redis = redis
    observed = verdict(health, "queue")
    assert observed["status"] == "warn"
    assert observed["observedValue"] >= settings.queue_warn_age + 30
    assert observed["output"].startswith("oldest queued job has waited ")


# ---- the abuse limits' keys ----------------------------------------------------------------


def test_a_limit_counts_under_its_prefixed_key_and_refuses_past_it(
    redis: Redis, settings: Settings
) -> None:
    limiter = Limiter(lambda: redis, settings.limits)
    limiter.hit("2/minute", "codes", "+15550100")
    limiter.hit("2/minute", "codes", "+15550100")
    with pytest.raises(RateLimited) as refused:
        limiter.hit("2/minute", "codes", "+15550100")
    assert 1 <= refused.value.retry_after <= 60
    limiter.hit("2/minute", "codes", "+15550199")  # another key counts apart
    keys = sorted(k.decode() for k in redis.keys("*"))
    assert keys == [
        f"{KEY_PREFIX}:LIMITER/codes/+15550100/2/1/minute",
        f"{KEY_PREFIX}:LIMITER/codes/+15550199/2/1/minute",
    ]
    assert limiter.status().error is None


def test_a_limit_fails_open_when_its_store_is_down(
    server: fakeredis.FakeServer, redis: Redis, settings: Settings
) -> None:
    server.connected = False
    limiter = Limiter(lambda: redis, settings.limits)
    for _ in range(5):
        limiter.hit("2/minute", "codes", "+15550100")  # never refused: limits fail open
    status = limiter.status()
    assert status.error is not None and status.since is not None
