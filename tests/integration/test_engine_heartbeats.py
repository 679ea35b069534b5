"""Heartbeat monitors: a missed check-in raises one alert; the next check-in closes it."""

from __future__ import annotations

import uuid

import pytest

from app.directory import heartbeat_monitors
from app.ingest import checkin_pass as heartbeats
from tests.support.engine_world import _make_ctx  # noqa: F401 - the make_ctx fixture


@pytest.fixture
def ctx(make_ctx):
    return make_ctx()


def monitor(conn, service_id, *, state="healthy", ago=None, timeout=60):
    """A monitor as migrated from before check-in secrets: its secret is its id."""
    monitor_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO heartbeat_monitors (id, service_id, name, timeout_seconds, state, "
        "last_checkin_at, checkin_secret_hash) "
        "VALUES (%s, %s, 'backup', %s, %s, now() - %s::interval, sha256(convert_to(%s, 'UTF8')))",
        (monitor_id, service_id, timeout, state, ago, monitor_id),
    )
    return monitor_id


def monitor_row(conn, monitor_id):
    return conn.execute(
        "SELECT state, alert_id FROM heartbeat_monitors WHERE id = %s", (monitor_id,)
    ).fetchone()


def test_expiry_raises_one_alert_and_a_checkin_closes_it(db_conn, ctx, make_service, client):
    service = make_service()["id"]
    late = monitor(db_conn, service, ago="2 minutes")

    heartbeats.run(ctx)
    heartbeats.run(ctx)

    row = monitor_row(db_conn, late)
    assert row["state"] == "unhealthy" and row["alert_id"] is not None
    alerts = db_conn.execute(
        "SELECT id, status, source, dedup_key, service_id::text AS s FROM alerts"
    ).fetchall()
    assert alerts == [
        {
            "id": row["alert_id"],
            "status": "triggered",
            "source": "heartbeat",
            "dedup_key": f"user:heartbeat:{late}",
            "s": service,
        }
    ]
    created = db_conn.execute(
        "SELECT actor_type, actor_id FROM alert_logs WHERE alert_id = %s AND event = 'created'",
        (row["alert_id"],),
    ).fetchone()
    assert created == {"actor_type": "heartbeat", "actor_id": late}

    assert client.post(f"/api/v2/heartbeat/{late}").status_code == 200

    assert monitor_row(db_conn, late) == {"state": "healthy", "alert_id": None}
    closed = db_conn.execute(
        "SELECT a.status, l.actor_type, l.actor_id FROM alerts a JOIN alert_logs l "
        "ON l.alert_id = a.id AND l.event = 'closed' WHERE a.id = %s",
        (row["alert_id"],),
    ).fetchone()
    assert closed == {"status": "closed", "actor_type": "heartbeat", "actor_id": late}


def test_a_monitor_expires_again_after_recovering(db_conn, ctx, make_service, client):
    late = monitor(db_conn, make_service()["id"], ago="2 minutes")
    heartbeats.run(ctx)
    client.post(f"/api/v2/heartbeat/{late}")
    db_conn.execute(
        "UPDATE heartbeat_monitors SET last_checkin_at = now() - interval '5 minutes' "
        "WHERE id = %s",
        (late,),
    )
    heartbeats.run(ctx)
    statuses = db_conn.execute("SELECT status FROM alerts ORDER BY id").fetchall()
    assert [r["status"] for r in statuses] == ["closed", "triggered"]


def test_inactive_and_punctual_monitors_do_not_expire(db_conn, ctx, make_service):
    service = make_service()["id"]
    never = heartbeat_monitors.create_heartbeat_monitor(db_conn, service, "never checked in", 60)[
        "id"
    ]
    punctual = monitor(db_conn, service, ago="10 seconds", timeout=600)

    due_in = heartbeats.run(ctx)

    assert db_conn.execute("SELECT count(*) AS n FROM alerts").fetchone() == {"n": 0}
    assert monitor_row(db_conn, never)["state"] == "inactive"
    assert monitor_row(db_conn, punctual)["state"] == "healthy"
    assert due_in is not None and 580 < due_in <= 590  # when the punctual one would expire
