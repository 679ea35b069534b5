"""Health checks behind /readyz and /healthz (README, Health endpoints; IETF health-check draft
bodies), and what they look at, item by item, for the admin system page (`details`).

Every check runs under a SingleFlight: concurrent probes share one call, results are reused
for about a second, and a dependency that hangs costs one stuck thread and a prompt `fail`,
never a hung probe.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import structlog
from redis import Redis

from app.platform import postgres
from app.platform.bounded import DeadlineExceeded, SingleFlight
from app.platform.engine_heartbeat import Heartbeat, read_heartbeat
from app.platform.fatal import list_fatal
from app.platform.listener import ListenerStatus
from app.platform.queues import ALL_QUEUES, NOTIFY_QUEUE
from app.platform.ratelimit import StoreStatus
from app.platform.redis_client import make_redis
from config.settings import Settings

log = structlog.get_logger(__name__)

CACHE_SECONDS = 0.5  # probe storms are answered from a result at most this old (seconds)
# Seconds a probe waits for a refresh in flight before it takes the previous verdict: a hung
# dependency must not hold gunicorn's threads (they also serve /livez and ingest).
PATIENCE_SECONDS = 0.25
ENGINE_STALE_CYCLES = 3  # a heartbeat older than this many cycles (+ check timeout) is stale
READY_CHECKS = ("database", "redis", "listener")
SYSTEM_CHECKS = (*READY_CHECKS, "workers", "engine", "queue", "limiter")


@dataclass(frozen=True)
class Observation:
    status: str  # pass | warn | fail
    value: float | int | None = None
    unit: str | None = None
    output: str | None = None


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


class HealthChecks:
    """The checks of one web process. `listener_status` reports this process's listener."""

    def __init__(
        self,
        settings: Settings,
        listener_status: Callable[[], ListenerStatus],
        limiter_status: Callable[[], StoreStatus],
    ) -> None:
        self._settings = settings
        self._listener_status = listener_status
        self._limiter_status = limiter_status
        self._redis: Redis | None = None
        timeout = settings.check_timeout
        functions: dict[str, Callable[[], Observation]] = {
            "database": self._database,
            "redis": self._redis_check,
            "workers": self._workers,
            "engine": self._engine,
            "queue": self._queue,
        }
        # These read this process's own state: no I/O, so nothing to share or bound.
        self._inline = {"listener": self._listener, "limiter": self._limiter}
        self._flights = {
            name: SingleFlight(
                fn, timeout, CACHE_SECONDS, name=f"health-{name}", patience=PATIENCE_SECONDS
            )
            for name, fn in functions.items()
            if name not in self._inline
        }
        self._details = SingleFlight(
            self._system_details, timeout, CACHE_SECONDS, name="health-details",
            patience=PATIENCE_SECONDS,
        )  # fmt: skip

    def evaluate(self, names: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
        """Run `names` concurrently; return the overall status and the `checks` member."""
        for name in names:
            if name in self._flights:
                self._flights[name].begin()
        checks: dict[str, Any] = {}
        for name in names:
            observation = self._observe(name)
            checks[name] = [_render(observation, self._scrub)]
        statuses = {c[0]["status"] for c in checks.values()}
        overall = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
        return overall, checks

    def _observe(self, name: str) -> Observation:
        try:
            if name in self._inline:
                return self._inline[name]()
            return self._flights[name].result()
        except DeadlineExceeded as exc:
            return Observation("fail", output=f"{name}: {exc}")
        except Exception as exc:
            return Observation("fail", output=f"{name}: {postgres.describe_error(exc)}")

    def _scrub(self, text: str) -> str:
        """`text` without a password, token or whole connection URL, whatever raised it: a
        configured URL becomes its host and port, any other URL loses its user info."""
        settings = self._settings
        for url in (settings.database_url, settings.database_listen_url, settings.redis_url):
            text = text.replace(url, _host_port(url))
            password = urlsplit(url).password
            if password and len(password) >= 4:  # shorter would mangle ordinary words
                text = text.replace(password, "***")
        return _USERINFO.sub(r"\1***@", text)

    def _client(self) -> Redis:
        if self._redis is None:
            self._redis = make_redis(
                self._settings.redis_url,
                self._settings.check_timeout,
                self._settings.redis_tls,
            )
        return self._redis

    def _database(self) -> Observation:
        started = time.monotonic()
        timeout = self._settings.check_timeout
        conn = postgres.connect(
            self._settings.database_url, timeout, application_name="klaxon-health"
        )
        try:
            postgres.bounded_query(conn, "SELECT 1", timeout)
        finally:
            conn.close()
        return Observation("pass", _ms(started), "ms")

    def _redis_check(self) -> Observation:
        started = time.monotonic()
        self._client().ping()
        return Observation("pass", _ms(started), "ms")

    def _listener(self) -> Observation:
        status = self._listener_status()
        age = status.last_alive_age
        if not status.running:
            return Observation("fail", output="listener thread is not running")
        if not status.connected:
            error = status.error or "connecting"
            return Observation("fail", age, "s", f"listener not connected: {error}")
        if age is None or age > status.stall_limit:
            output = f"listener silent for more than {status.stall_limit:g}s"
            return Observation("fail", age, "s", output)
        return Observation("pass", round(age, 1), "s")

    def _limiter(self) -> Observation:
        """The abuse limiter's store as its last call found it; a failing store is a `warn`:
        limits fail open, nothing else depends on it."""
        status = self._limiter_status()
        if status.error is None:
            return Observation("pass")
        age = round(time.monotonic() - (status.since or time.monotonic()), 1)
        output = f"rate-limit store unavailable, limits not enforced: {status.error}"
        return Observation("warn", age, "s", output)

    def _workers(self) -> Observation:
        from rq import Queue, Worker

        client = self._client()
        fatal = list_fatal(client)
        live = [
            w
            for w in Worker.all(connection=client, queue=Queue(NOTIFY_QUEUE, connection=client))
            if _heartbeat_age(w.last_heartbeat) <= self._settings.worker_ttl
        ]
        if fatal:
            return Observation("fail", len(live), "workers", _describe_fatal(fatal))
        if not live:
            return Observation(
                "fail",
                0,
                "workers",
                f"no live worker serves {NOTIFY_QUEUE} — start `klaxon worker`",
            )
        return Observation("pass", len(live), "workers")

    def _engine(self) -> Observation:
        beat = read_heartbeat(self._client())
        if beat is None:
            return Observation("fail", output="no engine heartbeat — is `klaxon engine` running?")
        age = round(beat.age(), 1)
        limit = beat.cycle_seconds * ENGINE_STALE_CYCLES + self._settings.check_timeout
        if age > limit:
            return Observation(
                "fail", age, "s", f"engine heartbeat is {age}s old (limit {limit:g}s)"
            )
        return Observation("pass", age, "s")

    def _queue(self) -> Observation:
        oldest = round(max((q.oldest_age for q in self._queue_states()), default=0.0), 1)
        if oldest > self._settings.queue_warn_age:
            limit = self._settings.queue_warn_age
            return Observation(
                "warn", oldest, "s", f"oldest queued job has waited {oldest}s (warn at {limit:g}s)"
            )
        return Observation("pass", oldest, "s")

    def _queue_states(self) -> list[QueueState]:
        """Each Klaxon queue's depth and how long its oldest job has waited (0: none): two
        round trips whatever the depth (rq's get_job_ids(0, 0) would read the whole list)."""
        from rq import Queue

        client = self._client()
        keys = [Queue(name, connection=client).key for name in ALL_QUEUES]
        with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.lindex(key, 0)
                pipe.llen(key)
            answers = pipe.execute()
        heads, depths = answers[0::2], answers[1::2]
        with client.pipeline(transaction=False) as pipe:
            for head in filter(None, heads):
                pipe.hget(f"rq:job:{head.decode()}", "enqueued_at")
            stamps = iter(pipe.execute())  # one per queue with a head, in order
        states = []
        for name, head, depth in zip(ALL_QUEUES, heads, depths, strict=True):
            stamp = next(stamps) if head else None
            oldest = _heartbeat_age(_parse_rq_time(stamp.decode())) if stamp else 0.0
            states.append(QueueState(name, depth, round(oldest, 1)))
        return states

    # -- the system page's detail (app.http.pages.admin_system) --------------------------------

    def details(self) -> SystemDetails:
        """What the checks look at, item by item: every worker, fatal report, the engine's
        heartbeat and every queue; bounded like a check. Raises DetailsUnavailable saying why
        (scrubbed like a check's output) when Redis does not answer in time or fails."""
        try:
            return self._details.result()
        except DeadlineExceeded as exc:
            raise DetailsUnavailable(f"redis: {exc}") from exc
        except Exception as exc:
            raise DetailsUnavailable(self._scrub(postgres.describe_error(exc))) from exc

    def _system_details(self) -> SystemDetails:
        from rq import Worker

        client = self._client()
        workers = [
            WorkerState(
                name=w.name,
                queues=tuple(w.queue_names()),
                state=_state_text(w.get_state()),
                last_heartbeat=w.last_heartbeat,
                age=round(_heartbeat_age(w.last_heartbeat), 1),
                live=_heartbeat_age(w.last_heartbeat) <= self._settings.worker_ttl,
            )
            for w in Worker.all(connection=client)[:MAX_WORKERS_SHOWN]
        ]
        fatal = [
            {k: self._scrub(str(v)) for k, v in report.items()}
            for report in list_fatal(client)[:MAX_WORKERS_SHOWN]
        ]
        beat = read_heartbeat(client)
        limit = (
            beat.cycle_seconds * ENGINE_STALE_CYCLES + self._settings.check_timeout if beat else 0
        )
        return SystemDetails(
            workers=sorted(workers, key=lambda w: w.name),
            fatal=fatal,
            engine=beat,
            engine_age=round(beat.age(), 1) if beat else None,
            engine_limit=limit,
            queues=self._queue_states(),
            worker_ttl=self._settings.worker_ttl,
        )


class DetailsUnavailable(Exception):
    """The system details could not be read (the message says why, without credentials)."""


MAX_WORKERS_SHOWN = 200  # workers (and fatal reports) the details list at most


@dataclass(frozen=True)
class QueueState:
    name: str
    depth: int
    oldest_age: float  # seconds the oldest queued job has waited; 0 when empty


@dataclass(frozen=True)
class WorkerState:
    name: str
    queues: tuple[str, ...]
    state: str
    last_heartbeat: datetime | None
    age: float  # seconds since its last heartbeat
    live: bool  # heard from within the worker TTL (what the workers check counts)


@dataclass(frozen=True)
class SystemDetails:
    workers: list[WorkerState]
    fatal: list[dict[str, str]]
    engine: Heartbeat | None
    engine_age: float | None  # seconds since the engine's last cycle ended: its cycle lag
    engine_limit: float  # the age at which the engine check fails
    queues: list[QueueState]
    worker_ttl: float


# scheme://user:password@ in free text; applied only to our own short outputs.
_USERINFO = re.compile(r"([a-z][a-z0-9+.-]{0,15}://)[^\s/@]{1,256}@", re.IGNORECASE)


def _host_port(url: str) -> str:
    """`host:port` of a URL, or `(socket)` for a unix socket."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "(socket)"
    return f"{host}:{port}" if port else host


def _parse_rq_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _heartbeat_age(moment: datetime | None) -> float:
    if moment is None:
        return float("inf")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (datetime.now(UTC) - moment).total_seconds()


def _state_text(state: object) -> str:
    """An RQ worker's state as a word (RQ keeps a WorkerStatus, a str or bytes)."""
    if isinstance(state, bytes):
        return state.decode(errors="replace")
    return str(getattr(state, "value", state))


def _describe_fatal(reports: list[dict[str, Any]]) -> str:
    parts = [
        f"{r.get('process')}@{r.get('instance')} failed to start at {r.get('at')}: "
        f"{r.get('check')}: {r.get('error')}"
        for r in reports
    ]
    return "; ".join(parts)


def _render(observation: Observation, scrub: Callable[[str], str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": observation.status,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if observation.value is not None:
        body["observedValue"] = observation.value
    if observation.unit is not None:
        body["observedUnit"] = observation.unit
    if observation.output:
        body["output"] = scrub(observation.output)
    return body
