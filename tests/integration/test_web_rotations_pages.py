"""The rotation pages through Flask's test client on real Postgres and Redis (README, Web app):
the list and create form, a rotation's page (who is on now, the next handoffs as
app.oncall computes them, the schedules using it), and every form: reorder by button and by a
dragged order, add, remove, advance, set current, settings, delete; each refusal as a page:
422 for bad input, 403 for those the rule keeps out (and no controls shown to them), 404,
409 for a stale order, and a missing CSRF token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from app.directory import users
from app.oncall import compute, handoffs, schedule_rules, schedules
from app.oncall import rotations as stored_rotations
from tests.integration.test_web_pages import csrf_of, page_sign_in
from tests.support.signin import make_user
from tests.support.teams import make_team

UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def world(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Team A (a manager, a member) owns a daily rotation of three people that started two
    days ago at this hour; team B has its own manager; a schedule uses the rotation."""
    manager, member, other = make_user(db_conn), make_user(db_conn), make_user(db_conn)
    ada, bo, cy = (make_user(db_conn) for _ in range(3))
    team = make_team(db_conn, managers=[manager], members=[member], name="Payments")
    make_team(db_conn, managers=[other], name="Storage")
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    rotation = stored_rotations.create_rotation(
        db_conn,
        {"name": "Payments primary", "description": "", "type": "daily", "shift_length": 1,
         "start": start, "start_index": 0, "time_zone": "Europe/London", "team_id": team["id"]},
        [ada["id"], bo["id"], cy["id"]],
    )  # fmt: skip
    schedule = schedules.create_schedule(db_conn, "Payments on call", "UTC", "", team["id"])
    schedule_rules.create_schedule_rule(
        db_conn, schedule["id"], {"target_type": "rotation", "target_id": rotation["id"]}
    )
    return {"manager": manager, "member": member, "other": other, "team": team,
            "rotation": rotation, "people": [ada, bo, cy], "schedule": schedule}  # fmt: skip


def signed_in_as(client: Any, user: dict[str, Any]) -> str:
    assert page_sign_in(client, user).status_code == 303
    return csrf_of(client.get("/rotations").get_data(as_text=True))


def stored(db_conn: psycopg.Connection[Any], rotation_id: str) -> dict[str, Any]:
    row = stored_rotations.get_rotation(db_conn, rotation_id)
    assert row is not None
    return row


def on_call_now(db_conn: psycopg.Connection[Any], rotation_id: str) -> str | None:
    value = stored_rotations.rotation_value(stored(db_conn, rotation_id))
    return compute.rotation_on_call_at(value, datetime.now(UTC))


def version(html: str) -> str:
    found = re.search(r'name="version" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def test_the_list_shows_each_rotation_with_who_is_on_now(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    signed_in_as(client, world["member"])
    html = client.get("/rotations").get_data(as_text=True)
    rotation_id = world["rotation"]["id"]
    row = re.search(rf'<tr data-rotation-id="{rotation_id}">(.*?)</tr>', html, re.S)
    assert row, html
    names = {p["id"]: p["name"] for p in world["people"]}
    text = row.group(1)
    assert "Payments primary" in text and "Payments" in text and "every day" in text
    assert "Europe/London" in text and ">3<" in text
    assert names[on_call_now(db_conn, rotation_id) or ""] in text
    assert "New rotation" not in html  # a member manages nothing: no create form


def test_a_manager_creates_a_rotation_and_bad_input_is_a_422_page(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    csrf = signed_in_as(client, world["manager"])
    assert "New rotation" in client.get("/rotations").get_data(as_text=True)
    ada, bo, _ = world["people"]
    form = {"csrf_token": csrf, "name": "Nights", "team_id": world["team"]["id"],
            "shift_length": "2", "type": "weekly", "handoff_date": "2027-03-08",
            "handoff_time": "09:00", "time_zone": "America/New_York",
            "participants": [ada["id"], bo["id"]]}  # fmt: skip
    created = client.post("/rotations", data=form)
    assert created.status_code == 303
    rotation_id = created.headers["Location"].split("/rotations/")[1].split("?")[0]
    row = stored(db_conn, rotation_id)
    assert row["participants"] == [ada["id"], bo["id"]] and row["shift_length"] == 2
    assert row["start"] == datetime(2027, 3, 8, 14, 0, tzinfo=UTC)  # 09:00 EST
    for field, value in (("time_zone", "Mars/Olympus"), ("handoff_date", "soon"),
                         ("handoff_time", "25:99"), ("type", "yearly"), ("shift_length", "0"),
                         ("name", ""), ("participants", [])):  # fmt: skip
        refused = client.post("/rotations", data={**form, field: value})
        assert refused.status_code == 422, field
        assert field in refused.get_data(as_text=True)
    no_team = client.post("/rotations", data={**form, "team_id": ""})
    assert no_team.status_code == 403  # only admins create what no team owns
    missing = client.post("/rotations", data={**form, "team_id": UNKNOWN})
    assert missing.status_code == 422
    unsigned = client.post("/rotations", data={k: v for k, v in form.items() if k != "csrf_token"})
    assert unsigned.status_code == 403


def test_the_rotation_page_agrees_with_the_computation(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    signed_in_as(client, world["member"])
    rotation_id = world["rotation"]["id"]
    html = client.get(f"/rotations/{rotation_id}").get_data(as_text=True)
    value = stored_rotations.rotation_value(stored(db_conn, rotation_id))
    expected = handoffs.outlook(value, datetime.now(UTC))
    found = re.findall(r'<li data-at="([^"]+)" data-user-id="([^"]+)">', html)
    assert [(datetime.fromisoformat(at), user) for at, user in found] == [
        (h.at, h.user_id) for h in expected.handoffs
    ]
    assert len(found) == handoffs.NEXT_HANDOFFS
    assert f'<p class="on-now" data-user-id="{expected.on_call}">' in html
    assert f'href="/schedules/{world["schedule"]["id"]}"' in html
    assert "Move up" not in html and "Advance" not in html  # a member sees no controls
    assert client.get(f"/rotations/{UNKNOWN}").status_code == 404


def test_reorder_by_button_and_by_dragged_order_keeps_who_is_on_call(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    csrf = signed_in_as(client, world["manager"])
    rotation_id = world["rotation"]["id"]
    ada, bo, cy = (p["id"] for p in world["people"])
    page = f"/rotations/{rotation_id}"
    before = on_call_now(db_conn, rotation_id)
    html = client.get(page).get_data(as_text=True)
    assert "Move up" in html
    moved = client.post(f"{page}/order", data={"csrf_token": csrf, "version": version(html),
                                               "move": "0:down"})  # fmt: skip
    assert moved.status_code == 303
    assert stored(db_conn, rotation_id)["participants"] == [bo, ada, cy]
    assert on_call_now(db_conn, rotation_id) == before
    stale = client.post(f"{page}/order", data={"csrf_token": csrf, "version": version(html),
                                               "move": "1:up"})  # fmt: skip
    assert stale.status_code == 409
    html = client.get(page).get_data(as_text=True)
    dragged = client.post(f"{page}/order", data={"csrf_token": csrf, "version": version(html),
                                                 "order": "2,0,1"})  # fmt: skip
    assert dragged.status_code == 303
    assert stored(db_conn, rotation_id)["participants"] == [cy, bo, ada]
    assert on_call_now(db_conn, rotation_id) == before
    html = client.get(page).get_data(as_text=True)
    for bad in ({"order": "0,0,1"}, {"order": "0,1"}, {"order": "x"}, {"move": "9:up"},
                {"move": "0:sideways"}):  # fmt: skip
        refused = client.post(f"{page}/order", data={"csrf_token": csrf, "version": version(html),
                                                     **bad})  # fmt: skip
        assert refused.status_code == 422, bad


def test_add_remove_advance_and_set_current(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    csrf = signed_in_as(client, world["manager"])
    rotation_id = world["rotation"]["id"]
    page = f"/rotations/{rotation_id}"
    ada, bo, cy = (p["id"] for p in world["people"])
    extra = make_user(db_conn)
    before = on_call_now(db_conn, rotation_id)
    html = client.get(f"{page}?q={extra['name']}").get_data(as_text=True)
    assert f'<option value="{extra["id"]}">' in html
    added = client.post(f"{page}/participants", data={"csrf_token": csrf, "user_id": extra["id"]})
    assert added.status_code == 303
    assert stored(db_conn, rotation_id)["participants"] == [ada, bo, cy, extra["id"]]
    assert on_call_now(db_conn, rotation_id) == before
    for bad in ("", "nope", UNKNOWN):
        refused = client.post(f"{page}/participants", data={"csrf_token": csrf, "user_id": bad})
        assert refused.status_code == 422, bad
    html = client.get(page).get_data(as_text=True)
    base = {"csrf_token": csrf, "version": version(html)}
    removed = client.post(f"{page}/participants/remove", data={**base, "position": "3"})
    assert removed.status_code == 303
    assert stored(db_conn, rotation_id)["participants"] == [ada, bo, cy]
    assert client.post(f"{page}/advance", data={"csrf_token": csrf}).status_code == 303
    order = [ada, bo, cy]
    assert on_call_now(db_conn, rotation_id) == order[(order.index(before or "") + 1) % 3]
    html = client.get(page).get_data(as_text=True)
    base = {"csrf_token": csrf, "version": version(html)}
    current = client.post(f"{page}/active", data={**base, "index": "2"})
    assert current.status_code == 303
    assert on_call_now(db_conn, rotation_id) == cy
    refused = client.post(f"{page}/active", data={**base, "index": "3"})
    assert refused.status_code == 422


def test_settings_and_delete(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    csrf = signed_in_as(client, world["manager"])
    rotation_id = world["rotation"]["id"]
    page = f"/rotations/{rotation_id}"
    form = {"csrf_token": csrf, "name": "Renamed", "shift_length": "1", "type": "weekly",
            "handoff_date": "2027-03-14", "handoff_time": "02:30",
            "time_zone": "America/New_York"}  # fmt: skip
    assert client.post(page, data=form).status_code == 303
    row = stored(db_conn, rotation_id)
    assert row["name"] == "Renamed" and row["type"] == "weekly"
    # 02:30 does not exist that day in New York: it resolves as the computation does, 03:00 EDT
    assert row["start"] == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
    assert client.post(page, data={**form, "shift_length": "x"}).status_code == 422
    assert client.post(f"/rotations/{UNKNOWN}", data=form).status_code == 404
    deleted = client.post(f"{page}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303 and deleted.headers["Location"].endswith("did=deleted")
    assert stored_rotations.get_rotation(db_conn, rotation_id) is None
    assert client.post(f"{page}/delete", data={"csrf_token": csrf}).status_code == 404


def test_those_the_rule_keeps_out_get_403_and_nothing_changes(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    rotation_id = world["rotation"]["id"]
    page = f"/rotations/{rotation_id}"
    before = stored(db_conn, rotation_id)
    for user in (world["other"], world["member"]):  # another team's manager; a mere member
        csrf = signed_in_as(client, user)
        html = client.get(page).get_data(as_text=True)
        for path, form in ((page, {"name": "x"}), (f"{page}/order", {"move": "0:down"}),
                           (f"{page}/participants", {"user_id": user["id"]}),
                           (f"{page}/participants/remove", {"position": "0"}),
                           (f"{page}/advance", {}), (f"{page}/active", {"index": "1"}),
                           (f"{page}/delete", {})):  # fmt: skip
            data = {"csrf_token": csrf, "version": version(html), **form}
            refused = client.post(path, data=data)
            assert refused.status_code == 403, path
            assert "Not allowed" in refused.get_data(as_text=True)
        client.post("/logout", data={"csrf_token": csrf})
    assert stored(db_conn, rotation_id) == before
    csrf = signed_in_as(client, world["manager"])
    assert client.post(f"{page}/advance").status_code == 403  # no CSRF token
    assert stored(db_conn, rotation_id) == before


def test_changes_are_audited_under_the_api_action_names(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    csrf = signed_in_as(client, world["manager"])
    rotation_id = world["rotation"]["id"]
    page = f"/rotations/{rotation_id}"
    html = client.get(page).get_data(as_text=True)
    base = {"csrf_token": csrf, "version": version(html)}
    assert client.post(f"{page}/order", data={**base, "move": "1:up"}).status_code == 303
    assert client.post(f"{page}/advance", data={"csrf_token": csrf}).status_code == 303
    html = client.get(page).get_data(as_text=True)
    base = {"csrf_token": csrf, "version": version(html)}
    value = stored_rotations.rotation_value(stored(db_conn, rotation_id))
    other = ((handoffs.position_at(value, datetime.now(UTC)) or 0) + 1) % 3  # a change
    assert client.post(f"{page}/active", data={**base, "index": other}).status_code == 303
    assert client.post(f"{page}/delete", data={"csrf_token": csrf}).status_code == 303
    rows = db_conn.execute(
        "SELECT actor_id, action, target_type, target_id FROM audit_events ORDER BY id"
    ).fetchall()
    seen = [(r["actor_id"], r["action"], r["target_type"], r["target_id"]) for r in rows]
    who = world["manager"]["id"]
    for action in ("update_rotation", "advance_rotation", "set_active_participant",
                   "delete_rotation"):  # fmt: skip
        assert (who, action, "rotations", rotation_id) in seen, seen


def test_a_rotation_whose_people_were_all_deleted_still_shows_and_takes_a_new_one(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    rotation_id = world["rotation"]["id"]
    for person in world["people"]:  # deleting a user deletes their positions
        users.delete_user(db_conn, person["id"])
    assert stored(db_conn, rotation_id)["participants"] == []
    csrf = signed_in_as(client, world["manager"])
    assert world["rotation"]["name"] in client.get("/rotations").get_data(as_text=True)
    html = client.get(f"/rotations/{rotation_id}").get_data(as_text=True)
    assert "it has no participants" in html and "Advance" not in html
    advanced = client.post(f"/rotations/{rotation_id}/advance", data={"csrf_token": csrf})
    assert advanced.status_code == 422
    page = f"/rotations/{rotation_id}/participants"
    added = client.post(page, data={"csrf_token": csrf, "user_id": world["member"]["id"]})
    assert added.status_code == 303
    assert on_call_now(db_conn, rotation_id) == world["member"]["id"]
