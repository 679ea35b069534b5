"""GET /metrics: Prometheus text format, read from the source of truth at scrape time.

Nothing is counted in process memory: gunicorn runs several workers and restarts them, so an
in-process counter would be one worker's partial, resettable view. A custom collector instead
reads Postgres (alerts, messages) and Redis (RQ queues and workers, the engine heartbeat, fatal
reports) when scraped. Each source is read under a SingleFlight: concurrent scrapes share one
read, a result is reused for CACHE_SECONDS, and a read that outlives the check timeout is given
up on — a source that is down or hanging makes its metrics absent and
`klaxon_metrics_source_up{source=…}` 0, never a hang or a 500.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from flask import Blueprint, Flask, Response, current_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry
from redis import Redis

from app.alerts import store as alert_store
from app.messages import store as message_store
from app.platform import postgres
from app.platform.bounded import SingleFlight
from app.platform.engine_heartbeat import Heartbeat, read_heartbeat
from app.platform.fatal import list_fatal
from app.platform.queues import ALL_QUEUES
from app.platform.redis_client import make_redis
from config.settings import Settings

log = structlog.get_logger(__name__)

metrics_blueprint = Blueprint("metrics", __name__)

CACHE_SECONDS = 1.0  # a scrape storm is answered from a read at most this old
OPEN_STATUSES = ("triggered", "acknowledged")
EXTENSION = "klaxon_metrics"

# One scan of each table, one round trip. Both tables are indexed for their hot paths, not
# for this; the statement timeout (the check timeout) bounds a scrape on a huge history.
_DATABASE_SQL = " UNION ALL ".join(
    (alert_store.COUNT_BY_SOURCE_AND_STATUS, message_store.COUNT_BY_PROVIDER_AND_STATUS)
)


@dataclass(frozen=True)
class DatabaseSnapshot:
    alerts: list[tuple[str, str, int, int]]  # source, status, count, duplicates
    messages: list[tuple[str, str, int]]  # provider, status, count


@dataclass(frozen=True)
class QueueState:
    depth: int
    oldest_enqueued: float | None  # unix time of the oldest waiting job
    live_workers: int


@dataclass(frozen=True)
class RedisSnapshot:
    queues: dict[str, QueueState] = field(default_factory=dict)
    heartbeat: Heartbeat | None = None
    fatal_reports: int = 0


class Sources:
    """The two reads a scrape needs, each bounded, shared and briefly cached."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._redis: Redis | None = None
        timeout = settings.check_timeout
        self.flights: dict[str, SingleFlight[Any]] = {
            "database": SingleFlight(self._read_database, timeout, CACHE_SECONDS, "metrics-db"),
            "redis": SingleFlight(self._read_redis, timeout, CACHE_SECONDS, "metrics-redis"),
        }

    def read(self) -> dict[str, Any]:
        """Each source's snapshot, or None for a source that failed or ran out of time."""
        for flight in self.flights.values():
            flight.begin()  # both reads run at once: a scrape costs one timeout at most
        results: dict[str, Any] = {}
        for name, flight in self.flights.items():
            try:
                results[name] = flight.result()
            except Exception as exc:
                log.warning("metrics_source_down", source=name, error=postgres.describe_error(exc))
                results[name] = None
        return results

    def _read_database(self) -> DatabaseSnapshot:
        timeout = self._settings.check_timeout
        conn = postgres.connect(
            self._settings.database_url,
            timeout,
            application_name="klaxon-metrics",
            options=f"-c statement_timeout={int(timeout * 1000)}",
        )
        try:
            rows = postgres.bounded_query(conn, _DATABASE_SQL, timeout)
        finally:
            conn.close()
        alerts = [
            (str(r[1]), str(r[2]), int(r[3] or 0), int(r[4] or 0)) for r in rows if r[0] == "alert"
        ]
        messages = [(str(r[1]), str(r[2]), int(r[3] or 0)) for r in rows if r[0] == "message"]
        return DatabaseSnapshot(alerts, messages)

    def _client(self) -> Redis:
        if self._redis is None:
            self._redis = make_redis(
                self._settings.redis_url,
                self._settings.check_timeout,
                self._settings.redis_tls,
            )
        return self._redis

    def _read_redis(self) -> RedisSnapshot:
        client = self._client()
        queues = {name: self._queue(client, name) for name in ALL_QUEUES}
        return RedisSnapshot(queues, read_heartbeat(client), len(list_fatal(client)))

    def _queue(self, client: Redis, name: str) -> QueueState:
        from rq import Queue, Worker

        queue = Queue(name, connection=client)
        oldest: float | None = None
        job_ids = queue.get_job_ids(0, 0)
        if job_ids:
            raw: bytes | None = client.hget(f"rq:job:{job_ids[0]}", "enqueued_at")  # type: ignore[assignment]
            if raw:
                oldest = _parse_rq_time(raw.decode()).timestamp()
        ttl = self._settings.worker_ttl
        live = sum(
            1
            for w in Worker.all(connection=client, queue=queue)
            if w.last_heartbeat is not None and _age(w.last_heartbeat) <= ttl
        )
        return QueueState(queue.count, oldest, live)


def _parse_rq_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _age(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (datetime.now(UTC) - moment).total_seconds()


class KlaxonCollector(Collector):
    """Turns the sources' snapshots into metric families at each scrape."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        results = self._read()
        up = GaugeMetricFamily(
            "klaxon_metrics_source_up",
            "Whether /metrics could read this source at this scrape (1) or not (0).",
            labels=["source"],
        )
        for name, snapshot in results.items():
            up.add_metric([name], 0 if snapshot is None else 1)
        yield up
        if results.get("database") is not None:
            yield from _database_families(results["database"])
        if results.get("redis") is not None:
            yield from _redis_families(results["redis"], time.time())


def _database_families(snap: DatabaseSnapshot) -> Iterator[Metric]:
    created = CounterMetricFamily(
        "klaxon_alerts_created", "Alerts created, by ingest source.", labels=["source"]
    )
    duplicates = CounterMetricFamily(
        "klaxon_alert_duplicates_suppressed",
        "Events folded into an already open alert (dedup), by ingest source.",
        labels=["source"],
    )
    by_source: dict[str, list[int]] = {}
    by_status = dict.fromkeys((*OPEN_STATUSES, "closed"), 0)
    for source, status, count, dups in snap.alerts:
        totals = by_source.setdefault(source, [0, 0])
        totals[0] += count
        totals[1] += dups
        by_status[status] = by_status.get(status, 0) + count
    for source, (count, dups) in sorted(by_source.items()):
        created.add_metric([source], count)
        duplicates.add_metric([source], dups)
    yield created
    yield duplicates
    open_alerts = GaugeMetricFamily(
        "klaxon_alerts_open", "Open alerts, by status.", labels=["status"]
    )
    for status in OPEN_STATUSES:
        open_alerts.add_metric([status], by_status[status])
    yield open_alerts
    yield CounterMetricFamily("klaxon_alerts_closed", "Alerts closed.", value=by_status["closed"])
    messages = GaugeMetricFamily(
        "klaxon_outgoing_messages",
        "Outgoing messages, by provider and current status.",
        labels=["provider", "status"],
    )
    for provider, status, count in sorted(snap.messages):
        messages.add_metric([provider, status], count)
    yield messages


def _redis_families(snap: RedisSnapshot, now: float) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "klaxon_queue_depth", "Jobs waiting in an RQ queue.", labels=["queue"]
    )
    oldest = GaugeMetricFamily(
        "klaxon_queue_oldest_job_age_seconds",
        "How long the oldest waiting job has waited (0 when the queue is empty).",
        labels=["queue"],
    )
    workers = GaugeMetricFamily(
        "klaxon_workers_live", "RQ workers with a fresh heartbeat, by queue.", labels=["queue"]
    )
    for name, state in sorted(snap.queues.items()):
        depth.add_metric([name], state.depth)
        age = 0.0 if state.oldest_enqueued is None else max(0.0, now - state.oldest_enqueued)
        oldest.add_metric([name], round(age, 3))
        workers.add_metric([name], state.live_workers)
    yield from (depth, oldest, workers)
    yield GaugeMetricFamily(
        "klaxon_fatal_reports",
        "Processes that failed to start and reported why (see /healthz).",
        value=snap.fatal_reports,
    )
    yield from _engine_families(snap.heartbeat, now)


def _engine_families(beat: Heartbeat | None, now: float) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "klaxon_engine_up",
        "Whether an engine leader's heartbeat is present in Redis.",
        value=0 if beat is None else 1,
    )
    if beat is None:
        return
    yield GaugeMetricFamily(
        "klaxon_engine_cycle_duration_seconds",
        "How long the engine leader's last cycle took.",
        value=max(0.0, beat.cycle_ended - beat.cycle_started),
    )
    yield GaugeMetricFamily(
        "klaxon_engine_last_cycle_age_seconds",
        "Seconds since the engine leader's last cycle ended (its lag).",
        value=max(0.0, now - beat.cycle_ended),
    )
    leader = GaugeMetricFamily(
        "klaxon_engine_leader_info", "The current engine leader.", labels=["instance", "pid"]
    )
    leader.add_metric([beat.instance, str(beat.pid)], 1)
    yield leader
    yield GaugeMetricFamily(
        "klaxon_engine_leader_since_timestamp_seconds",
        "When the current engine leader took over (unix time).",
        value=beat.leader_since,
    )
    yield CounterMetricFamily(
        "klaxon_engine_cycles", "Cycles run by the current engine leader.", value=beat.cycles
    )


def register_metrics(app: Flask, settings: Settings) -> None:
    """Serve /metrics from `app`. No I/O here: sources are read at scrape time, after fork."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KlaxonCollector(Sources(settings).read))
    app.extensions[EXTENSION] = registry
    app.register_blueprint(metrics_blueprint)


@metrics_blueprint.get("/metrics")
def metrics() -> Response:
    registry: CollectorRegistry = current_app.extensions[EXTENSION]
    response = Response(generate_latest(registry), status=200, content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response
