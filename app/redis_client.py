"""Redis clients with bounded waits.

redis-py 8 retries ConnectionError/TimeoutError with backoff by default: a PING to a peer that
never answers took ~26 s with a 2 s socket timeout. Every client here sets socket timeouts and,
for checks, no retries at all.
"""

from __future__ import annotations

from redis import Redis
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.retry import Retry

# Long-lived clients (RQ workers, the engine) retry a blip briefly; checks never retry.
_SERVICE_RETRIES = 2


def make_redis(url: str, timeout: float, *, retries: bool = False) -> Redis:
    """A client for `url` whose connect and every command wait at most `timeout` seconds."""
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
    )
