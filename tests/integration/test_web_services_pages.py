"""The services pages through Flask's test client on real Postgres and Redis (README, Web app):
the list's open-alert counts and teams, a service's policy and who is on call, integration keys
shown exactly once and revoked, maintenance started and ended, and the permission rule: a
member of another team sees no controls and a forged POST is a 403 that changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from app.alerts import store
from app.directory import heartbeat_monitors, integration_keys, services
from app.escalation import policies
from tests.integration.test_web_pages import csrf_of, page_sign_in
from tests.support.signin import make_user
from tests.support.teams import make_team


@pytest.fixture
def world(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Team A (a manager, a member) owns `checkout` (with a policy paging the member); team B
    has its own manager."""
    manager, member, other = make_user(db_conn), make_user(db_conn), make_user(db_conn)
    team_a = make_team(db_conn, managers=[manager], members=[member], name="Payments")
    make_team(db_conn, managers=[other], name="Storage")
    policy = policies.create_policy(
        db_conn, {"name": "Payments primary", "description": "", "repeat_count": 0,
                  "team_id": team_a["id"]},
        [{"delay_minutes": 5, "targets": [{"type": "user", "id": member["id"]}]}],
    )  # fmt: skip
    service = services.create_service(db_conn, "checkout", "", team_a["id"])
    services.update_service(db_conn, service["id"], {"escalation_policy_id": policy["id"]})
    return {"manager": manager, "member": member, "other": other, "team": team_a,
            "service": service, "policy": policy}  # fmt: skip


def signed_in_as(client: Any, user: dict[str, Any]) -> str:
    assert page_sign_in(client, user).status_code == 303
    return csrf_of(client.get("/services").get_data(as_text=True))


def row_of(html: str, service_id: str) -> str:
    found = re.search(rf'<tr data-service-id="{service_id}">(.*?)</tr>', html, re.S)
    assert found, html
    return found.group(1)


def test_the_list_counts_open_alerts_per_service_and_names_the_team(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    checkout = world["service"]
    quiet = services.create_service(db_conn, "quiet")
    for summary in ("disk full", "cpu high", "gone"):
        store.raise_alert(db_conn, checkout["id"], summary)
    closed = store.raise_alert(db_conn, checkout["id"], "fixed").alert_id
    acked = store.raise_alert(db_conn, checkout["id"], "looking").alert_id
    store.set_status(db_conn, closed, "closed", store.Actor("user", world["manager"]["id"]))
    store.set_status(db_conn, acked, "acknowledged", store.Actor("user", world["manager"]["id"]))
    signed_in_as(client, world["member"])
    html = client.get("/services").get_data(as_text=True)
    checkout_row, quiet_row = row_of(html, checkout["id"]), row_of(html, quiet["id"])
    assert '<td class="count">4</td>' in checkout_row  # 3 triggered + 1 acknowledged
    assert "Payments" in checkout_row
    assert '<td class="count">0</td>' in quiet_row and "no team" in quiet_row


def test_the_service_page_shows_its_alerts_policy_and_who_is_on_call(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    alert_id = store.raise_alert(db_conn, world["service"]["id"], "checkout latency").alert_id
    heartbeat_monitors.create_heartbeat_monitor(db_conn, world["service"]["id"], "nightly", 600)
    other = services.create_service(db_conn, "elsewhere")
    elsewhere = store.raise_alert(db_conn, other["id"], "not this one").alert_id
    signed_in_as(client, world["member"])
    html = client.get(f"/services/{world['service']['id']}").get_data(as_text=True)
    assert f'data-alert-id="{alert_id}"' in html
    assert f'data-alert-id="{elsewhere}"' not in html
    assert f"service={world['service']['id']}" in html  # the live table keeps the preset
    assert "Payments primary" in html
    assert f"user <strong>{world['member']['name']}</strong>" in html
    assert "paged directly" in html and "handoff" not in html
    assert "<strong>nightly</strong> · every 600 s" in html
    assert (
        '<span class="badge hb-inactive">inactive</span>' in html and "last check-in never" in html
    )


def test_a_member_cannot_edit_another_teams_service(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    service_id = world["service"]["id"]
    key = integration_keys.create_integration_key(db_conn, service_id, "generic")
    csrf = signed_in_as(client, world["other"])  # manages team B, not team A
    html = client.get(f"/services/{service_id}").get_data(as_text=True)
    for control in ("Create integration key", "Start maintenance", ">Revoke<"):
        assert control not in html
    forged = {
        f"/services/{service_id}/integration-keys": {"type": "generic"},
        f"/services/{service_id}/integration-keys/{key['id']}/revoke": {},
        f"/services/{service_id}/maintenance": {"minutes": "60"},
        f"/services/{service_id}/maintenance/end": {},
    }
    for path, form in forged.items():
        refused = client.post(path, data={"csrf_token": csrf, **form})
        assert refused.status_code == 403, path
        assert "manager of team" in refused.get_data(as_text=True)
    assert len(integration_keys.list_integration_keys(db_conn, service_id)) == 1
    assert (
        integration_keys.get_integration_key(db_conn, service_id, key["id"])["revoked_at"] is None
    )
    assert services.get_service(db_conn, service_id)["maintenance_until"] is None
    client.post("/logout", data={"csrf_token": csrf})
    csrf = signed_in_as(client, world["member"])  # a member of the owning team: still no
    assert "Create integration key" not in client.get(f"/services/{service_id}").get_data(True)
    forged_path = f"/services/{service_id}/maintenance"
    refused = client.post(forged_path, data={"csrf_token": csrf, "minutes": "60"})
    assert refused.status_code == 403


def test_a_new_key_is_shown_once_works_and_can_be_revoked(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    service_id = world["service"]["id"]
    csrf = signed_in_as(client, world["manager"])
    assert "Create integration key" in client.get(f"/services/{service_id}").get_data(True)
    created = client.post(
        f"/services/{service_id}/integration-keys",
        data={"csrf_token": csrf, "type": "generic", "name": "ci"},
    )
    assert created.status_code == 303
    location = created.headers["Location"]
    assert location.startswith(f"/services/{service_id}?key=") and "kli_" not in location
    html = client.get(location).get_data(as_text=True)
    url = re.search(r'id="new-key-url"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert url.startswith("http://localhost:5000/api/v2/generic/incoming?token=kli_")
    token = url.split("token=", 1)[1]
    assert "curl -X POST" in html and "summary=Test alert from Klaxon" in html
    assert integration_keys.verify_integration_key(db_conn, token) is not None
    reloaded = client.get(location).get_data(as_text=True)
    assert token not in reloaded and "new-key-url" not in reloaded
    key_id = integration_keys.verify_integration_key(db_conn, token).id  # type: ignore[union-attr]
    revoked = client.post(
        f"/services/{service_id}/integration-keys/{key_id}/revoke", data={"csrf_token": csrf}
    )
    assert revoked.status_code == 303
    assert "no longer works" in client.get(revoked.headers["Location"]).get_data(True)
    assert integration_keys.verify_integration_key(db_conn, token) is None


def test_another_user_cannot_take_a_new_keys_showing(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    service_id = world["service"]["id"]
    csrf = signed_in_as(client, world["manager"])
    location = client.post(
        f"/services/{service_id}/integration-keys", data={"csrf_token": csrf}
    ).headers["Location"]
    client.post("/logout", data={"csrf_token": csrf})
    signed_in_as(client, world["member"])
    assert "new-key-url" not in client.get(location).get_data(as_text=True)


def test_maintenance_starts_for_the_chosen_duration_and_ends_early(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    service_id = world["service"]["id"]
    csrf = signed_in_as(client, world["manager"])
    before = datetime.now(UTC)
    started = client.post(
        f"/services/{service_id}/maintenance", data={"csrf_token": csrf, "minutes": "120"}
    )
    assert started.status_code == 303
    until = services.get_service(db_conn, service_id)["maintenance_until"]
    assert before + timedelta(minutes=120) <= until <= datetime.now(UTC) + timedelta(minutes=120)
    html = client.get(started.headers["Location"]).get_data(as_text=True)
    assert "End maintenance now" in html and "Maintenance started" in html
    ended = client.post(f"/services/{service_id}/maintenance/end", data={"csrf_token": csrf})
    assert ended.status_code == 303
    assert services.get_service(db_conn, service_id)["maintenance_until"] is None
    assert "Start maintenance" in client.get(ended.headers["Location"]).get_data(True)
    bad = client.post(
        f"/services/{service_id}/maintenance", data={"csrf_token": csrf, "minutes": "7"}
    )
    assert bad.status_code == 422 and "minutes" in bad.get_data(as_text=True)


def test_a_services_form_post_without_the_csrf_token_is_refused(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    service_id = world["service"]["id"]
    signed_in_as(client, world["manager"])
    for path, form in ((f"/services/{service_id}/integration-keys", {}),
                       (f"/services/{service_id}/maintenance", {"minutes": "60"})):  # fmt: skip
        refused = client.post(path, data=form)
        assert refused.status_code == 403 and "CSRF" in refused.get_data(as_text=True)
    assert integration_keys.list_integration_keys(db_conn, service_id) == []
    assert services.get_service(db_conn, service_id)["maintenance_until"] is None


def test_an_unknown_service_is_a_404_page(client: Any, world: dict[str, Any]) -> None:
    signed_in_as(client, world["member"])
    missing = client.get("/services/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and "no service with id" in missing.get_data(as_text=True)


def test_the_service_page_says_who_is_on_call_next_through_a_rotation(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    from app.oncall.rotations import create_rotation

    ada, bob = world["member"], world["manager"]
    with db_conn.transaction():
        rotation = create_rotation(
            db_conn,
            {"name": "payments hourly", "description": "", "type": "hourly", "shift_length": 1,
             "start": "2020-01-01T00:00:00Z", "time_zone": "UTC", "start_index": 0},
            [ada["id"], bob["id"]],
        )  # fmt: skip
    policy = policies.create_policy(
        db_conn, {"name": "Rotating", "description": "", "repeat_count": 0},
        [{"delay_minutes": 5, "targets": [{"type": "rotation", "id": rotation["id"]}]}],
    )  # fmt: skip
    service = services.create_service(db_conn, "rotating")
    services.update_service(db_conn, service["id"], {"escalation_policy_id": policy["id"]})
    now = datetime.now(UTC)
    hours = int((now - datetime(2020, 1, 1, tzinfo=UTC)).total_seconds() // 3600)
    on_now, on_next = (ada, bob) if hours % 2 == 0 else (bob, ada)
    signed_in_as(client, world["member"])
    html = client.get(f"/services/{service['id']}").get_data(as_text=True)
    assert "rotation <strong>payments hourly</strong>" in html
    assert f"on call now: {on_now['name']}" in html
    assert f"next: {on_next['name']}" in html
    handoff = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    assert f'datetime="{handoff.isoformat()}"' in html  # the next handoff, on the hour


def test_without_redis_no_key_is_created_that_nobody_could_see(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any], redis_server: Any
) -> None:
    service_id = world["service"]["id"]
    csrf = signed_in_as(client, world["manager"])
    redis_server.stop()
    refused = client.post(f"/services/{service_id}/integration-keys", data={"csrf_token": csrf})
    assert refused.status_code == 503
    assert refused.get_json()["code"] == "unavailable"
    assert "none was created" in refused.get_json()["error"]
    assert integration_keys.list_integration_keys(db_conn, service_id) == []
