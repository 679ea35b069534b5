"""Heartbeat check-ins: `POST /api/v2/heartbeat/<monitor id>`, the id being the secret."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
import pytest

from tests.fixtures.ingest import error_of, row_counts


@pytest.fixture
def monitor(db_conn: psycopg.Connection[Any], make_service: Any) -> dict[str, Any]:
    row = db_conn.execute(
        "INSERT INTO heartbeat_monitors (service_id, name, timeout_seconds) "
        "VALUES (%s, 'nightly backup', 3600) RETURNING id::text AS id, state, last_checkin_at",
        (make_service()["id"],),
    ).fetchone()
    assert row is not None
    return dict(row)


def test_checkin_records_the_time_and_marks_healthy(client, db_conn, monitor):
    assert (monitor["state"], monitor["last_checkin_at"]) == ("inactive", None)
    response = client.post(f"/api/v2/heartbeat/{monitor['id']}")
    assert response.status_code == 200
    body = response.get_json()
    row = db_conn.execute(
        "SELECT state, last_checkin_at FROM heartbeat_monitors WHERE id = %s", (monitor["id"],)
    ).fetchone()
    assert row is not None and row["state"] == "healthy"
    assert body["id"] == monitor["id"]
    assert body["state"] == "healthy"
    assert datetime.fromisoformat(body["last_checkin_at"]) == row["last_checkin_at"]
    assert body["last_checkin_at"].endswith("Z")


def test_checkin_moves_the_time_forward(client, db_conn, monitor):
    first = client.post(f"/api/v2/heartbeat/{monitor['id']}").get_json()["last_checkin_at"]
    second = client.post(f"/api/v2/heartbeat/{monitor['id']}").get_json()["last_checkin_at"]
    assert datetime.fromisoformat(second) > datetime.fromisoformat(first)


def test_checkin_ignores_any_body_and_token(client, monitor):
    response = client.post(
        f"/api/v2/heartbeat/{monitor['id']}?token=whatever", json={"anything": ["at", "all"]}
    )
    assert response.status_code == 200


def test_checkin_notifies_the_engine(client, database_url, monitor):
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute("LISTEN klaxon_events")
        client.post(f"/api/v2/heartbeat/{monitor['id']}")
        notes = list(listener.notifies(timeout=5, stop_after=1))
    assert json.loads(notes[0].payload) == {
        "heartbeat_monitor_id": monitor["id"],
        "event": "heartbeat_checkin",
    }


@pytest.mark.parametrize(
    "monitor_id",
    [
        "6f1d7d1e-2f4b-4c1e-9a57-0c4f3e1f9b2a",
        "not-a-uuid",
        "1",
        "%00",
        "'; DROP TABLE heartbeat_monitors; --",
    ],
)
def test_unknown_or_malformed_ids_are_the_same_404(client, db_conn, monitor, monitor_id):
    before = row_counts(db_conn)
    response = client.post(f"/api/v2/heartbeat/{monitor_id}")
    assert response.status_code == 404
    body = error_of(response)
    assert (body["error"], body["details"]) == ("no heartbeat monitor with this id", {})
    assert row_counts(db_conn) == before


def test_get_is_not_a_checkin(client, monitor):
    response = client.get(f"/api/v2/heartbeat/{monitor['id']}")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_oversized_body_is_refused_before_the_checkin(client, db_conn, monitor):
    response = client.post(f"/api/v2/heartbeat/{monitor['id']}", data=b"x" * (257 * 1024))
    assert response.status_code == 413
    assert row_counts(db_conn)["checkins"] == 0
