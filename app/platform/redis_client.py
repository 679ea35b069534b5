"""Redis clients with bounded waits.

redis-py 8 retries ConnectionError/TimeoutError with backoff by default: a PING to a peer that
never answers took ~26 s with a 2 s socket timeout. Every client here sets socket timeouts and,
for checks, no retries at all.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from redis import Redis
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.retry import Retry

from config.settings import RedisTls

# Long-lived clients (RQ workers, the engine) retry a blip briefly; checks never retry.
_SERVICE_RETRIES = 2


def make_redis(url: str, timeout: float, tls: RedisTls, *, retries: bool = False) -> Redis:
    """A client for `url` whose connect and every command wait at most `timeout` seconds.

    Every Redis client in Klaxon is built here, so a `rediss://` URL is verified (or, by the
    operator's explicit choice, not) the same way in web, worker, engine, health and admin.
    """
    retry = (
        Retry(ExponentialWithJitterBackoff(base=0.1, cap=1.0), _SERVICE_RETRIES)
        if retries
        else Retry(NoBackoff(), 0)
    )
    return Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=retry,
        health_check_interval=30,
        **tls_kwargs(url, tls),
    )


def tls_kwargs(url: str, tls: RedisTls) -> dict[str, Any]:
    """redis-py's certificate arguments for `url`: none unless it is `rediss://`."""
    if urlsplit(url).scheme != "rediss":
        return {}  # a plain connection class refuses ssl_* arguments
    if tls.verify == "none":
        return {"ssl_cert_reqs": "none", "ssl_check_hostname": False}
    return {"ssl_cert_reqs": "required", "ssl_check_hostname": True, "ssl_ca_certs": tls.ca_file}
