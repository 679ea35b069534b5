"""Heartbeat check-ins: `POST /api/v2/heartbeat/<check-in secret>`; the id is not a secret."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import psycopg
import pytest

from app.directory import heartbeat_monitors
from tests.fixtures.ingest import error_of, row_counts


@pytest.fixture
def monitor(db_conn: psycopg.Connection[Any], make_service: Any) -> dict[str, Any]:
    """A monitor with its check-in secret; `path` is its check-in path."""
    row = heartbeat_monitors.create_heartbeat_monitor(
        db_conn, make_service()["id"], "nightly backup", 3600
    )
    return {**row, "path": f"/api/v2/heartbeat/{row['checkin_secret']}"}


@pytest.fixture
def migrated_monitor(db_conn: psycopg.Connection[Any], make_service: Any) -> str:
    """A monitor created before check-in secrets, as the migration left it: the id of the
    monitor is its secret until rotated."""
    monitor_id = str(uuid.uuid4())
    db_conn.execute(
        "INSERT INTO heartbeat_monitors (id, service_id, name, timeout_seconds, "
        "checkin_secret_hash) VALUES (%s, %s, 'old', 3600, sha256(convert_to(%s, 'UTF8')))",
        (monitor_id, make_service()["id"], monitor_id),
    )
    return monitor_id


def test_checkin_records_the_time_and_marks_healthy(client, db_conn, monitor):
    assert (monitor["state"], monitor["last_checkin_at"]) == ("inactive", None)
    response = client.post(monitor["path"])
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
    first = client.post(monitor["path"]).get_json()["last_checkin_at"]
    second = client.post(monitor["path"]).get_json()["last_checkin_at"]
    assert datetime.fromisoformat(second) > datetime.fromisoformat(first)


def test_checkin_ignores_any_body_and_token(client, monitor):
    response = client.post(f"{monitor['path']}?token=whatever", json={"anything": ["at", "all"]})
    assert response.status_code == 200


def test_checkin_notifies_the_engine(client, database_url, monitor):
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute("LISTEN klaxon_events")
        client.post(monitor["path"])
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
    assert body["error"] == "no heartbeat monitor with this check-in secret"
    assert body["details"] == {}
    assert row_counts(db_conn) == before


def test_get_is_not_a_checkin(client, monitor):
    response = client.get(monitor["path"])
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_oversized_body_is_refused_before_the_checkin(client, db_conn, monitor):
    response = client.post(monitor["path"], data=b"x" * (257 * 1024))
    assert response.status_code == 413
    assert row_counts(db_conn)["checkins"] == 0


def test_a_monitors_id_is_not_its_secret(client, db_conn, monitor):
    before = row_counts(db_conn)
    for path in (f"/api/v2/heartbeat/{monitor['id']}", f"/v1/api/heartbeat/{monitor['id']}"):
        assert client.post(path).status_code == 404
    assert row_counts(db_conn) == before


def test_the_legacy_path_takes_the_secret_too(client, monitor):
    assert client.post(f"/v1/api/heartbeat/{monitor['checkin_secret']}").status_code == 200


@pytest.mark.parametrize("form", [str, lambda u: str(u).upper(), lambda u: uuid.UUID(u).hex])
def test_a_migrated_monitor_checks_in_with_its_old_id(client, migrated_monitor, form):
    response = client.post(f"/api/v2/heartbeat/{form(migrated_monitor)}")
    assert response.status_code == 200
    assert response.get_json()["id"] == migrated_monitor


def test_rotating_ends_the_old_secret_and_the_migrated_id(client, db_conn, migrated_monitor):
    service = db_conn.execute(
        "SELECT service_id::text AS s FROM heartbeat_monitors WHERE id = %s", (migrated_monitor,)
    ).fetchone()["s"]
    rotated = heartbeat_monitors.rotate_heartbeat_secret(db_conn, service, migrated_monitor)
    assert client.post(f"/api/v2/heartbeat/{migrated_monitor}").status_code == 404
    assert client.post(f"/api/v2/heartbeat/{rotated['checkin_secret']}").status_code == 200
