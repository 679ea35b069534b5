"""Per-process background parts of web: the listener and the health checks.

Nothing here touches the network until `start()`, which gunicorn calls in each worker after
fork (post_worker_init) — connections are never created before a fork and shared across it.
"""

from __future__ import annotations

import threading

import structlog
from redis import Redis

from app.directory.oidc.provider import Provider
from app.platform.health import HealthChecks
from app.platform.listener import Listener
from app.platform.outbound.target import Resolver, system_resolver
from app.platform.pool import Database
from app.platform.ratelimit import Limiter
from app.platform.redis_client import make_redis
from config.settings import Settings, redact_url

log = structlog.get_logger(__name__)

WEB_CHANNEL = "klaxon_web"


class WebRuntime:
    """Owns the web process's listener thread and health checks."""

    def __init__(self, settings: Settings, resolver: Resolver = system_resolver) -> None:
        self.settings = settings
        self.resolver = resolver  # how saved webhook URLs are resolved (a seam for tests)
        # web acts on no alert event yet: it listens on a quiet channel of its own, which still
        # proves LISTEN works, without decoding every ingest's NOTIFY (8% of web's CPU under
        # ingest load).
        self.listener = Listener(
            settings.database_listen_url,
            settings.check_timeout,
            channels=(WEB_CHANNEL,),
            name="web-listener",
        )
        # Abuse limits on Redis; connects on first use and fails open (app.platform.ratelimit).
        self.limiter = Limiter(
            lambda: make_redis(settings.redis_url, settings.check_timeout, settings.redis_tls),
            settings.limits,
            redact_url(settings.redis_url),
        )
        self.health = HealthChecks(settings, self.listener.status, self.limiter.status)
        self.db = Database(settings)  # opens its pool on first use, after fork
        # OpenID Connect sign-in's identity provider (its documents cached per process), if set.
        self.oidc = Provider(settings.oidc) if settings.oidc is not None else None
        self._lock = threading.Lock()
        self._started = False
        self._jobs_redis: Redis | None = None

    def jobs_redis(self) -> Redis:
        """The client that queues background jobs (emails of sign-in links): built on first
        use, after fork; socket timeouts, no retries (app.platform.redis_client)."""
        with self._lock:
            if self._jobs_redis is None:
                settings = self.settings
                self._jobs_redis = make_redis(
                    settings.redis_url, settings.check_timeout, settings.redis_tls
                )
            return self._jobs_redis

    def start(self) -> None:
        """Start the listener once; safe to call from any request or hook."""
        with self._lock:
            if self._started:
                return
            self._started = True
        self.listener.start()

    def start_and_wait(self) -> bool:
        """Start, then wait at most the check timeout for the listener's first connection, so
        a new worker does not take requests while its /readyz would still say "connecting".
        Whether it connected; if not, the worker serves anyway and /readyz says why."""
        self.start()
        return self.listener.wait_connected(self.settings.check_timeout)

    def stop(self) -> None:
        self.listener.stop()
        self.db.close()
        with self._lock:
            if self._jobs_redis is not None:
                self._jobs_redis.close()
                self._jobs_redis = None
