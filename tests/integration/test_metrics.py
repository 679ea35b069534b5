"""GET /metrics: every family from the source of truth, and a prompt answer when a source hangs."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from rq import Queue, Worker

from app.alerts import store
from app.alerts.store import Actor
from app.messages import create
from app.platform.engine_heartbeat import Heartbeat, write_heartbeat
from app.platform.fatal import report_fatal
from app.platform.queues import DEFAULT_QUEUE, NOTIFY_QUEUE
from config.settings import RedisTls
from tests.support.inbound import make_contact_method, make_user
from tests.support.net import Tarpit


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["Cache-Control"] == "no-store"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def names(samples) -> set[str]:
    return {name for name, _ in samples}


def test_database_families_count_alerts_and_messages(client, db_conn, make_service):
    service_id = make_service()["id"]
    for i in range(3):
        store.raise_alert(db_conn, service_id, f"generic {i}", source="generic")
    store.raise_alert(db_conn, service_id, "generic 0", source="generic")  # a duplicate
    store.raise_alert(db_conn, service_id, "generic 0", source="generic")  # another
    grafana = store.raise_alert(db_conn, service_id, "grafana", source="grafana").alert_id
    acked = store.raise_alert(db_conn, service_id, "acked", source="grafana").alert_id
    store.set_status(db_conn, grafana, "closed", Actor("system"))
    store.set_status(db_conn, acked, "acknowledged", Actor("system"))
    method = make_contact_method(db_conn, make_user(db_conn)["id"], "webhook", "https://x.test/")
    for key in ("m1", "m2", "m3"):
        create.to_contact_method(db_conn, "test", method, key, max_attempts=1)
    db_conn.execute(
        "UPDATE outgoing_messages SET status = 'failed', failed_at = now() WHERE dedup_key = 'm3'"
    )

    samples = scrape(client)

    assert samples[("klaxon_metrics_source_up", (("source", "database"),))] == 1
    assert samples[("klaxon_alerts_created_total", (("source", "generic"),))] == 3
    assert samples[("klaxon_alerts_created_total", (("source", "grafana"),))] == 2
    assert samples[("klaxon_alert_duplicates_suppressed_total", (("source", "generic"),))] == 2
    assert samples[("klaxon_alert_duplicates_suppressed_total", (("source", "grafana"),))] == 0
    assert samples[("klaxon_alerts_open", (("status", "triggered"),))] == 3
    assert samples[("klaxon_alerts_open", (("status", "acknowledged"),))] == 1
    assert samples[("klaxon_alerts_closed_total", ())] == 1
    webhook = (("provider", "webhook"),)
    assert samples[("klaxon_outgoing_messages", (*webhook, ("status", "pending")))] == 2
    assert samples[("klaxon_outgoing_messages", (*webhook, ("status", "failed")))] == 1


def test_redis_families_read_queues_workers_engine_and_fatal_reports(
    client, redis_url, settings_for
):
    redis = Redis.from_url(redis_url)
    notify = Queue(NOTIFY_QUEUE, connection=redis)
    notify.enqueue("os.getpid")
    notify.enqueue("os.getpid")
    worker = Worker([notify], connection=redis, name="metrics-test-worker")
    worker.register_birth()
    now = time.time()
    write_heartbeat(
        redis,
        Heartbeat(
            instance="engine.1",
            pid=4242,
            leader_since=now - 60,
            cycle_started=now - 3.25,
            cycle_ended=now - 3.0,
            cycles=17,
            cycle_seconds=5.0,
        ),
    )
    settings = settings_for()
    assert report_fatal(redis_url, "worker", "w.2", "smtp", "535 auth failed", 60, 2, RedisTls())

    samples = scrape(client)

    assert samples[("klaxon_metrics_source_up", (("source", "redis"),))] == 1
    assert samples[("klaxon_queue_depth", (("queue", NOTIFY_QUEUE),))] == 2
    assert samples[("klaxon_queue_depth", (("queue", DEFAULT_QUEUE),))] == 0
    oldest = samples[("klaxon_queue_oldest_job_age_seconds", (("queue", NOTIFY_QUEUE),))]
    assert 0 <= oldest < 30
    assert samples[("klaxon_queue_oldest_job_age_seconds", (("queue", DEFAULT_QUEUE),))] == 0
    assert samples[("klaxon_workers_live", (("queue", NOTIFY_QUEUE),))] == 1
    assert samples[("klaxon_workers_live", (("queue", DEFAULT_QUEUE),))] == 0
    assert samples[("klaxon_fatal_reports", ())] == 1
    assert samples[("klaxon_engine_up", ())] == 1
    assert samples[("klaxon_engine_cycle_duration_seconds", ())] == pytest.approx(0.25, abs=0.01)
    assert 3.0 <= samples[("klaxon_engine_last_cycle_age_seconds", ())] < 3.0 + 30
    assert samples[("klaxon_engine_leader_info", (("instance", "engine.1"), ("pid", "4242")))] == 1
    assert samples[("klaxon_engine_cycles_total", ())] == 17
    assert settings.worker_ttl > 0  # the live-worker window the count above relies on


def test_no_engine_heartbeat_is_engine_up_0(client):
    samples = scrape(client)
    assert samples[("klaxon_engine_up", ())] == 0
    assert "klaxon_engine_cycle_duration_seconds" not in names(samples)


def test_a_hanging_redis_and_database_leave_their_metrics_out_promptly(settings_for):
    from app import create_app

    with Tarpit() as redis_pit, Tarpit() as pg_pit:
        app = create_app(
            settings_for(
                REDIS_URL=f"redis://127.0.0.1:{redis_pit.port}/0",
                DATABASE_URL=f"postgresql://postgres@127.0.0.1:{pg_pit.port}/klaxon",
                KLAXON_CHECK_TIMEOUT="1",
            )
        )
        try:
            client = app.test_client()
            for _ in range(2):  # the second scrape finds the stuck reads still in flight
                started = time.monotonic()
                samples = scrape(client)
                elapsed = time.monotonic() - started
                assert elapsed < 2.0, f"/metrics took {elapsed:.2f}s with its sources hanging"
                assert samples[("klaxon_metrics_source_up", (("source", "redis"),))] == 0
                assert samples[("klaxon_metrics_source_up", (("source", "database"),))] == 0
                assert names(samples) == {"klaxon_metrics_source_up"}
        finally:
            app.extensions["klaxon"].stop()


def test_a_hanging_redis_leaves_database_metrics_in(settings_for, db_conn, make_service):
    from app import create_app

    store.raise_alert(db_conn, make_service()["id"], "x", source="generic")
    with Tarpit() as pit:
        app = create_app(
            settings_for(REDIS_URL=f"redis://127.0.0.1:{pit.port}/0", KLAXON_CHECK_TIMEOUT="1")
        )
        try:
            started = time.monotonic()
            samples = scrape(app.test_client())
            assert time.monotonic() - started < 2.0
        finally:
            app.extensions["klaxon"].stop()
    assert samples[("klaxon_metrics_source_up", (("source", "redis"),))] == 0
    assert samples[("klaxon_metrics_source_up", (("source", "database"),))] == 1
    assert samples[("klaxon_alerts_created_total", (("source", "generic"),))] == 1
    assert "klaxon_queue_depth" not in names(samples)


class CountingTarpit:
    """Accepts connections, counts them, and never says a word (a hung Redis)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def test_a_scrape_storm_shares_one_read_per_source(settings_for, db_conn, make_service):
    from app import create_app

    store.raise_alert(db_conn, make_service()["id"], "x", source="generic")
    pit = CountingTarpit()
    app = create_app(
        settings_for(REDIS_URL=f"redis://127.0.0.1:{pit.port}/0", KLAXON_CHECK_TIMEOUT="1")
    )
    try:
        client_for = app.test_client

        def one(_: int) -> tuple[float, dict]:
            started = time.monotonic()
            samples = scrape(client_for())
            return time.monotonic() - started, samples

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(one, range(20)))
    finally:
        app.extensions["klaxon"].stop()
        connections = len(pit.accepted)
        pit.close()

    assert connections == 1  # twenty concurrent scrapes, one read of the hung Redis
    for elapsed, samples in results:
        assert elapsed < 2.0
        assert samples[("klaxon_metrics_source_up", (("source", "redis"),))] == 0
        assert samples[("klaxon_alerts_created_total", (("source", "generic"),))] == 1
