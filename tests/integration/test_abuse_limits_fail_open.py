"""When the limiter's Redis is stopped or hangs, every limit fails open within the check timeout:
no alert is refused or delayed, the log says so once per episode, /healthz shows a warn, and the
limits hold again once Redis answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import structlog

from app.platform.ratelimit import COOL_OFF_SECONDS
from config.settings import Settings
from tests.support.net import BlackholeProxy, Tarpit
from tests.support.wait import wait_until

CHECK_TIMEOUT = 1.0  # seconds: the most one limiter call may wait
FAILS = 2
GENERIC = "/api/v2/generic/incoming"


@pytest.fixture
def client_on(settings_for: Callable[..., Settings]) -> Iterator[Callable[[str], Any]]:
    """client_on(redis_url): a test client of an app whose Redis is `redis_url`."""
    from app import create_app

    apps: list[Any] = []

    def build(redis_url: str) -> Any:
        app = create_app(
            settings_for(
                REDIS_URL=redis_url,
                KLAXON_CHECK_TIMEOUT=str(CHECK_TIMEOUT),
                KLAXON_LIMIT_FAILED_AUTH=f"{FAILS}/minute",
            )
        )
        app.config["TESTING"] = True
        apps.append(app)
        return app.test_client()

    yield build
    for app in apps:
        app.extensions["klaxon"].stop()


@pytest.fixture
def stopped_redis(redis_server: Any) -> str:
    """The URL of a Redis that was running and has been stopped (connections are refused)."""
    url = str(redis_server.url)
    redis_server.kill()
    return url


@pytest.fixture
def tarpit() -> Iterator[Tarpit]:
    with Tarpit() as pit:
        yield pit


@pytest.fixture(params=["stopped", "tarpit"])
def broken_client(request, client_on, stopped_redis, tarpit) -> Any:
    url = stopped_redis if request.param == "stopped" else f"redis://127.0.0.1:{tarpit.port}/0"
    return client_on(url)


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def limiter_check(client: Any) -> dict[str, Any]:
    body = client.get("/healthz").get_json()
    check: dict[str, Any] = body["checks"]["limiter"][0]
    return check


def test_a_broken_store_never_refuses_or_delays_an_alert(broken_client, make_service):
    token = make_service()["integration_key"]["token"]
    with structlog.testing.capture_logs() as logged:
        for n in range(FAILS + 3):
            refused, took = timed(lambda: broken_client.post(f"{GENERIC}?token=kli_bad"))
            assert refused.status_code == 401  # never 429: the limit fails open
            # The first failure may wait for the store, never past the check timeout; the rest
            # pass at once (the store is left alone while it cools off).
            assert took < (CHECK_TIMEOUT + 0.5 if n == 0 else 0.3)
        for n in range(5):
            raised, took = timed(
                lambda n=n: broken_client.post(f"{GENERIC}?token={token}&summary=a{n}")
            )
            assert raised.status_code == 204 and took < 0.3
    unavailable = [e for e in logged if e["event"] == "rate_limit_store_unavailable"]
    assert len(unavailable) == 1  # once per episode, not per request
    assert unavailable[0]["log_level"] == "warning"


def test_valid_ingest_never_touches_the_limiter_store(client_on, tarpit, make_service):
    token = make_service()["integration_key"]["token"]
    client = client_on(f"redis://127.0.0.1:{tarpit.port}/0")
    for n in range(5):
        raised, took = timed(lambda n=n: client.post(f"{GENERIC}?token={token}&summary=v{n}"))
        assert raised.status_code == 204 and took < 0.3
    assert limiter_check(client)["status"] == "pass"  # the store was never asked


def test_healthz_warns_while_the_store_is_unavailable(broken_client):
    assert limiter_check(broken_client)["status"] == "pass"
    broken_client.post(f"{GENERIC}?token=kli_bad")
    check = limiter_check(broken_client)
    assert check["status"] == "warn"
    assert "rate-limit store unavailable, limits not enforced" in check["output"]
    overall = broken_client.get("/healthz")
    assert overall.get_json()["checks"]["limiter"][0]["status"] == "warn"


@pytest.fixture
def redis_proxy(redis_url: str) -> Iterator[BlackholeProxy]:
    target = urlsplit(redis_url)
    proxy = BlackholeProxy(target.hostname or "127.0.0.1", target.port)
    yield proxy
    proxy.close()


def test_limits_hold_again_once_the_store_answers(client_on, redis_proxy):
    client = client_on(f"redis://127.0.0.1:{redis_proxy.port}/0")
    redis_proxy.blackhole()
    with structlog.testing.capture_logs() as logged:
        assert client.post(GENERIC).status_code == 401  # waits the check timeout, fails open
        redis_proxy.heal()
        # After the cool-off one request probes the store again and finds it answering.
        wait_until(
            lambda: client.post(GENERIC).status_code == 429,
            COOL_OFF_SECONDS + 10,
            "the limit to hold again",
        )
    events = [e["event"] for e in logged if e["event"].startswith("rate_limit_store")]
    assert events == ["rate_limit_store_unavailable", "rate_limit_store_recovered"]
    assert limiter_check(client)["status"] == "pass"
