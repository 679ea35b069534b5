"""The alert invariants live in Postgres: one open alert per dedup key, status only forward."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg.rows import dict_row

from app.alerts import store
from app.alerts.store import Actor


def open_conn(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, row_factory=dict_row)


def test_concurrent_identical_raises_yield_one_open_alert(database_url, make_service):
    service_id = make_service()["id"]

    def raise_once(_: int) -> store.Raised:
        with open_conn(database_url) as conn:
            return store.raise_alert(conn, service_id, "CPU hot", "on web-1", dedup="cpu")

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(raise_once, range(100)))

    assert sum(r.is_new for r in results) == 1
    assert len({r.alert_id for r in results}) == 1
    with open_conn(database_url) as conn:
        row = conn.execute("SELECT count(*) AS n, max(duplicate_count) AS d FROM alerts").fetchone()
        logs = conn.execute("SELECT event, meta FROM alert_logs ORDER BY id").fetchall()
    assert row == {"n": 1, "d": 99}
    # The 99 repeats (well inside a minute) are one log entry that counts them all.
    assert [r["event"] for r in logs] == ["created", "duplicate_suppressed"]
    assert logs[1]["meta"] == {"count": 99}


def test_a_closed_alert_frees_its_dedup_key_for_a_new_one(db_conn, make_service):
    service_id = make_service()["id"]
    first = store.raise_alert(db_conn, service_id, "down", dedup="k")
    assert store.set_status_by_dedup(
        db_conn, service_id, store.user_dedup_key("k"), "closed", Actor("system")
    ) == [first.alert_id]
    second = store.raise_alert(db_conn, service_id, "down", dedup="k")
    assert second.is_new and second.alert_id != first.alert_id


def test_status_moves_forward_only_and_repeats_are_no_ops(db_conn, make_service):
    alert = store.raise_alert(db_conn, make_service()["id"], "down")
    actor = Actor("api_key", "k1")
    assert store.set_status(db_conn, alert.alert_id, "acknowledged", actor)
    assert not store.set_status(db_conn, alert.alert_id, "acknowledged", actor)
    assert store.set_status(db_conn, alert.alert_id, "closed", actor)
    assert not store.set_status(db_conn, alert.alert_id, "acknowledged", actor)
    with pytest.raises(psycopg.errors.CheckViolation, match="cannot move from closed"):
        db_conn.execute(
            "UPDATE alerts SET status = 'triggered', closed_at = NULL WHERE id = %s",
            (alert.alert_id,),
        )
    log = store.get_alert(db_conn, alert.alert_id)["log"]
    assert [(e["event"], e["actor_id"]) for e in log] == [
        ("created", None),
        ("acknowledged", "k1"),
        ("closed", "k1"),
    ]


def test_changes_notify_the_engine_channel_on_commit(database_url, make_service):
    service_id = make_service()["id"]
    with open_conn(database_url) as listener, open_conn(database_url) as writer:
        listener.execute("LISTEN klaxon_events")
        with writer.transaction():
            raised = store.raise_alert(writer, service_id, "disk")
            store.request_escalation(writer, raised.alert_id, Actor("user", "u1"))
        payloads = [n.payload for n in listener.notifies(timeout=5, stop_after=2)]
    assert f'"alert_id" : {raised.alert_id}' in payloads[0] and '"created"' in payloads[0]
    assert '"escalation_requested"' in payloads[1]


def test_list_filters_and_text_search_escape_wildcards(db_conn, make_service):
    service_id = make_service()["id"]
    store.raise_alert(db_conn, service_id, "100% disk on db-1")
    store.raise_alert(db_conn, service_id, "1000 errors on web")
    found = store.list_alerts(db_conn, store.AlertFilter(service_id=service_id, q="100%"))
    assert [a["summary"] for a in found] == ["100% disk on db-1"]
    assert store.list_alerts(db_conn, store.AlertFilter(status="closed")) == []


def test_database_checks_refuse_bad_rows_even_bypassing_the_store(db_conn, make_service):
    service_id = make_service()["id"]
    with pytest.raises(psycopg.errors.CheckViolation):
        db_conn.execute(
            "INSERT INTO alerts (service_id, summary, dedup_key) VALUES (%s, 'a\nb', 'k')",
            (service_id,),
        )
    with pytest.raises(psycopg.errors.CheckViolation):
        db_conn.execute(
            "INSERT INTO alerts (service_id, summary, dedup_key) VALUES (%s, '', 'k')",
            (service_id,),
        )


def duplicate_entries(conn, alert_id):
    return conn.execute(
        "SELECT meta FROM alert_logs WHERE alert_id = %s AND event = 'duplicate_suppressed' "
        "ORDER BY id",
        (alert_id,),
    ).fetchall()


def test_repeats_update_the_alert_and_one_log_entry_per_minute(db_conn, make_service):
    service_id = make_service()["id"]
    first = store.raise_alert(db_conn, service_id, "CPU hot", dedup="cpu")
    for _ in range(5):
        store.raise_alert(db_conn, service_id, "CPU hot", dedup="cpu")
    alert = db_conn.execute(
        "SELECT duplicate_count, last_seen_at > created_at AS seen FROM alerts WHERE id = %s",
        (first.alert_id,),
    ).fetchone()
    assert alert == {"duplicate_count": 5, "seen": True}
    assert duplicate_entries(db_conn, first.alert_id) == [{"meta": {"count": 5}}]
    # A minute on, the next repeat opens a new entry; the first keeps its count.
    db_conn.execute(
        "UPDATE alerts SET duplicate_window_at = now() - interval '61 seconds' WHERE id = %s",
        (first.alert_id,),
    )
    store.raise_alert(db_conn, service_id, "CPU hot", dedup="cpu")
    store.raise_alert(db_conn, service_id, "CPU hot", dedup="cpu")
    assert duplicate_entries(db_conn, first.alert_id) == [
        {"meta": {"count": 5}},
        {"meta": {"count": 2}},
    ]


def test_concurrent_repeats_through_the_ingest_fast_path_log_one_entry(database_url, make_service):
    from app.ingest import fastpath
    from app.ingest.events import Event

    service = make_service()
    token = service["integration_key"]["token"]
    event = Event(action="trigger", summary="disk full", dedup="disk")

    def raise_once(_: int):
        with open_conn(database_url) as conn:
            return fastpath.raise_with_key(conn, token, "generic", event)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(raise_once, range(60)))
    assert sum(r.is_new for r in results) == 1
    with open_conn(database_url) as conn:
        assert duplicate_entries(conn, results[0].alert_id) == [{"meta": {"count": 59}}]
