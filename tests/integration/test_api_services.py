"""/api/v1/services and its sub-resources: integration keys, heartbeat monitors, bulk actions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from app.alerts import store
from app.directory import integration_keys
from tests.support.api import Api

PUBLIC_URL = "https://klaxon.example.com"


@pytest.fixture
def web_app(settings_for: Callable[..., Any]) -> Any:
    from app import create_app

    app = create_app(settings_for(KLAXON_PUBLIC_URL=PUBLIC_URL))
    app.config["TESTING"] = True
    yield app
    app.extensions["klaxon"].stop()


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("write"))


def new_service(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.post("/services", json={"name": f"svc-{uuid.uuid4().hex[:8]}", **fields})
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


# ---- services -------------------------------------------------------------------------------


def test_create_get_patch_delete_a_service(api: Api) -> None:
    service = new_service(api, description="payments")
    assert service["description"] == "payments"
    assert service["maintenance_until"] is None and service["escalation_policy_id"] is None
    assert api.get(f"/services/{service['id']}").get_json() == service
    renamed = api.patch(f"/services/{service['id']}", json={"name": "payments-api"}).get_json()
    assert renamed["name"] == "payments-api" and renamed["description"] == "payments"
    assert api.delete(f"/services/{service['id']}").status_code == 204
    assert api.get(f"/services/{service['id']}").status_code == 404


def test_maintenance_window_is_stored_in_utc_and_cleared_with_null(api: Api) -> None:
    service = new_service(api, maintenance_until="2031-05-01T12:00:00+02:00")
    assert service["maintenance_until"] == "2031-05-01T10:00:00Z"
    path = f"/services/{service['id']}"
    cleared = api.patch(path, json={"maintenance_until": None}).get_json()
    assert cleared["maintenance_until"] is None


@pytest.mark.parametrize(
    "value", ["2031-05-01T12:00:00", "tomorrow", "0001-01-01T00:00:00-23:59", 10**20]
)
def test_maintenance_window_needs_an_rfc3339_time_with_offset(api: Api, value: Any) -> None:
    response = api.post("/services", json={"name": "svc", "maintenance_until": value})
    assert response.status_code == 422
    assert "maintenance_until" in response.get_json()["error"]


def test_duplicate_service_name_is_409_naming_the_field(api: Api) -> None:
    service = new_service(api)
    response = api.post("/services", json={"name": service["name"].upper()})
    assert response.status_code == 409
    assert response.get_json()["details"] == {"field": "name"}


def test_description_over_4096_characters_is_422(api: Api) -> None:
    response = api.post("/services", json={"name": "svc", "description": "x" * 4097})
    assert response.status_code == 422


def test_services_paginate_exactly_once(api: Api) -> None:
    created = {new_service(api)["id"] for _ in range(5)}
    seen = [s["id"] for s in api.walk("/services", limit=2)]
    assert len(seen) == 5 and set(seen) == created


def test_deleting_a_service_deletes_its_alerts(api: Api, db_conn: psycopg.Connection[Any]) -> None:
    service = new_service(api)
    store.raise_alert(db_conn, service["id"], "disk full")
    assert api.delete(f"/services/{service['id']}").status_code == 204
    assert db_conn.execute("SELECT count(*) AS n FROM alerts").fetchone() == {"n": 0}


# ---- integration keys -----------------------------------------------------------------------


def test_new_integration_key_shows_its_token_once_with_the_ingest_url(
    api: Api, db_conn: psycopg.Connection[Any]
) -> None:
    service = new_service(api)
    path = f"/services/{service['id']}/integration-keys"
    created = api.post(path, json={"type": "grafana", "name": "grafana prod"})
    assert created.status_code == 201
    key = created.get_json()
    assert key["url"].startswith(f"{PUBLIC_URL}/api/v2/grafana/incoming?token=")
    assert parse_qs(urlsplit(key["url"]).query)["token"] == [key["token"]]
    verified = integration_keys.verify_integration_key(db_conn, key["token"])
    assert verified is not None and verified.service_id == service["id"]
    listed = api.get(path).get_json()["items"]
    assert [k["id"] for k in listed] == [key["id"]]
    fetched = api.get(f"{path}/{key['id']}").get_json()
    for shown in (*listed, fetched):
        assert "token" not in shown and "url" not in shown
        assert key["token"] not in str(shown)


def test_integration_key_defaults_to_generic(api: Api) -> None:
    service = new_service(api)
    key = api.post(f"/services/{service['id']}/integration-keys", json={}).get_json()
    assert key["type"] == "generic"
    assert key["url"].startswith(f"{PUBLIC_URL}/api/v2/generic/incoming?token=kli_")


def test_revoking_an_integration_key_stops_its_token_at_once(
    api: Api, db_conn: psycopg.Connection[Any]
) -> None:
    service = new_service(api)
    path = f"/services/{service['id']}/integration-keys"
    key = api.post(path, json={"type": "generic"}).get_json()
    assert api.delete(f"{path}/{key['id']}").status_code == 204
    assert integration_keys.verify_integration_key(db_conn, key["token"]) is None
    listed = api.get(path).get_json()["items"]
    assert listed[0]["revoked_at"] is not None
    assert api.delete(f"{path}/{key['id']}").status_code == 204  # revoking again changes nothing


def test_integration_key_of_another_service_is_404(api: Api) -> None:
    first, second = new_service(api), new_service(api)
    key = api.post(f"/services/{first['id']}/integration-keys", json={}).get_json()
    other = f"/services/{second['id']}/integration-keys/{key['id']}"
    assert api.get(other).status_code == 404
    assert api.delete(other).status_code == 404


def test_integration_keys_of_an_unknown_service_are_404(api: Api) -> None:
    path = f"/services/{uuid.uuid4()}/integration-keys"
    assert api.get(path).status_code == 404
    assert api.post(path, json={"type": "generic"}).status_code == 404


@pytest.mark.parametrize("body", [{"type": "smtp"}, {"type": "generic", "name": "x" * 201}])
def test_invalid_integration_key_is_422(api: Api, body: dict[str, Any]) -> None:
    service = new_service(api)
    response = api.post(f"/services/{service['id']}/integration-keys", json=body)
    assert response.status_code == 422


# ---- heartbeat monitors ---------------------------------------------------------------------


def test_heartbeat_monitor_crud_with_checkin_url(api: Api) -> None:
    service = new_service(api)
    path = f"/services/{service['id']}/heartbeat-monitors"
    created = api.post(path, json={"name": "nightly backup", "timeout_seconds": 3600})
    assert created.status_code == 201
    monitor = created.get_json()
    secret = monitor.pop("checkin_secret")
    assert secret.startswith("khb_") and monitor["id"] not in secret
    assert monitor.pop("checkin_url") == f"{PUBLIC_URL}/api/v2/heartbeat/{secret}"
    assert (monitor["state"], monitor["last_checkin_at"]) == ("inactive", None)
    assert api.get(f"{path}/{monitor['id']}").get_json() == monitor
    changed = api.patch(f"{path}/{monitor['id']}", json={"timeout_seconds": 7200}).get_json()
    assert changed["timeout_seconds"] == 7200 and changed["name"] == "nightly backup"
    assert [m["id"] for m in api.get(path).get_json()["items"]] == [monitor["id"]]
    assert api.delete(f"{path}/{monitor['id']}").status_code == 204
    assert api.get(f"{path}/{monitor['id']}").status_code == 404


def test_a_read_key_never_sees_a_checkin_secret(api: Api, make_api_key: Any) -> None:
    service = new_service(api)
    path = f"/services/{service['id']}/heartbeat-monitors"
    created = api.post(path, json={"name": "job", "timeout_seconds": 60}).get_json()
    reader = Api(api.client, make_api_key("read"))
    shown = [
        reader.get(f"{path}/{created['id']}").get_json(),
        *reader.get(path).get_json()["items"],
    ]
    for body in shown:
        assert "checkin_secret" not in body and "checkin_url" not in body
        assert created["checkin_secret"] not in str(body)
    refused = reader.post(f"{path}/{created['id']}/rotate-secret")
    assert refused.status_code == 403


def test_rotating_a_checkin_secret_shows_the_new_one_once(api: Api) -> None:
    service = new_service(api)
    path = f"/services/{service['id']}/heartbeat-monitors"
    created = api.post(path, json={"name": "job", "timeout_seconds": 60}).get_json()
    rotated = api.post(f"{path}/{created['id']}/rotate-secret")
    assert rotated.status_code == 200
    body = rotated.get_json()
    assert body["id"] == created["id"] and body["checkin_secret"] != created["checkin_secret"]
    assert body["checkin_url"] == f"{PUBLIC_URL}/api/v2/heartbeat/{body['checkin_secret']}"
    assert api.client.post(f"/api/v2/heartbeat/{created['checkin_secret']}").status_code == 404
    assert api.client.post(f"/api/v2/heartbeat/{body['checkin_secret']}").status_code == 200
    missing = api.post(f"{path}/{uuid.uuid4()}/rotate-secret")
    assert missing.status_code == 404


@pytest.mark.parametrize("timeout", [59, 9 * 24 * 3600 + 1, "soon", None])
def test_heartbeat_timeout_out_of_bounds_is_422(api: Api, timeout: Any) -> None:
    service = new_service(api)
    response = api.post(
        f"/services/{service['id']}/heartbeat-monitors",
        json={"name": "job", "timeout_seconds": timeout},
    )
    assert response.status_code == 422
    assert "timeout_seconds" in response.get_json()["error"]


def test_heartbeat_monitors_paginate_exactly_once(api: Api) -> None:
    service = new_service(api)
    path = f"/services/{service['id']}/heartbeat-monitors"
    for n in range(5):
        api.post(path, json={"name": f"job {n}", "timeout_seconds": 60})
    seen = [m["name"] for m in api.walk(path, limit=2)]
    assert sorted(seen) == [f"job {n}" for n in range(5)]


# ---- bulk actions on a service's alerts -----------------------------------------------------


def test_bulk_acknowledge_and_close_act_on_that_service_only(
    api: Api, db_conn: psycopg.Connection[Any]
) -> None:
    service, other = new_service(api), new_service(api)
    mine = [store.raise_alert(db_conn, service["id"], f"alert {n}").alert_id for n in range(3)]
    theirs = store.raise_alert(db_conn, other["id"], "elsewhere").alert_id
    acked = api.post(f"/services/{service['id']}/alerts/acknowledge")
    assert acked.status_code == 200
    body = acked.get_json()
    assert (body["service_id"], body["status"]) == (service["id"], "acknowledged")
    assert sorted(body["alert_ids"]) == sorted(str(i) for i in mine)
    again = api.post(f"/services/{service['id']}/alerts/acknowledge").get_json()
    assert again["alert_ids"] == []
    closed = api.post(f"/services/{service['id']}/alerts/close").get_json()
    assert sorted(closed["alert_ids"]) == sorted(str(i) for i in mine)
    statuses = db_conn.execute("SELECT id, status FROM alerts ORDER BY id").fetchall()
    assert {r["id"]: r["status"] for r in statuses} == {
        **{i: "closed" for i in mine},
        theirs: "triggered",
    }


def test_bulk_action_on_an_unknown_service_is_404(api: Api) -> None:
    assert api.post(f"/services/{uuid.uuid4()}/alerts/close").status_code == 404


def test_maintenance_until_in_the_past_is_accepted(api: Api) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert (
        api.post("/services", json={"name": "svc-past", "maintenance_until": past}).status_code
        == 201
    )
