"""The schedule pages through Flask's test client on real Postgres and Redis (README, Web app):
the list with who is on call now and its create form; a schedule's week, month and list views
agreeing with GET …/shifts shift by shift and telling sources apart; the rule, temporary
schedule and override forms; and every refusal: 422 for bad input, 403 for those the API's
rule refuses (and without the CSRF token), 404 for what does not exist."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from app.directory import users
from app.oncall import overrides, rotations, schedule_rules, schedules, temporary_schedules
from tests.integration.test_web_pages import csrf_of, page_sign_in
from tests.support.signin import make_user
from tests.support.teams import make_team

ZONE = "America/New_York"


@pytest.fixture
def world(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Team A (a manager, a member) owns `Primary` (a weekly rotation of both, all day); team B
    has its own manager. Everyone reads times in New York."""
    manager, member, other = make_user(db_conn), make_user(db_conn), make_user(db_conn)
    for person in (manager, member, other):
        users.update_user(db_conn, person["id"], {"time_zone": ZONE})
    team = make_team(db_conn, managers=[manager], members=[member], name="Payments")
    make_team(db_conn, managers=[other], name="Storage")
    rotation = rotations.create_rotation(
        db_conn, {"name": "Payments weekly", "description": "", "type": "weekly",
                  "shift_length": 1, "start": datetime(2026, 1, 5, 14, tzinfo=UTC),
                  "start_index": 0, "time_zone": ZONE},
        [manager["id"], member["id"]],
    )  # fmt: skip
    schedule = schedules.create_schedule(db_conn, "Primary", ZONE, "", team["id"])
    schedule_rules.create_schedule_rule(
        db_conn, schedule["id"], {"target_type": "rotation", "target_id": rotation["id"],
                                  "weekdays": list(range(7)), "start_time": "00:00",
                                  "end_time": "00:00"},
    )  # fmt: skip
    return {"manager": manager, "member": member, "other": other, "team": team,
            "rotation": rotation, "schedule": schedule}  # fmt: skip


def signed_in_as(client: Any, user: dict[str, Any]) -> str:
    assert page_sign_in(client, user).status_code == 303
    return csrf_of(client.get("/schedules").get_data(as_text=True))


SHIFT = re.compile(
    r'class="shift [^"]*" data-start="([^"]+)" data-end="([^"]+)" data-user-id="([^"]+)"'
)


def page_shifts(html: str) -> list[tuple[str, str, str]]:
    """The distinct shifts a page's blocks carry, in order."""
    return sorted(set(SHIFT.findall(html)))


def api_shifts(client: Any, schedule_id: str, html: str) -> list[tuple[str, str, str]]:
    found = re.search(r'data-range-start="([^"]+)" data-range-end="([^"]+)"', html)
    assert found
    answer = client.get(
        f"/api/v1/schedules/{schedule_id}/shifts",
        query_string={"start": found.group(1), "end": found.group(2)},
    )
    assert answer.status_code == 200, answer.get_json()
    return sorted((s["start"], s["end"], s["user_id"]) for s in answer.get_json()["items"])


def test_the_list_shows_who_is_on_call_and_creates_a_schedule(
    client: Any, world: dict[str, Any]
) -> None:
    csrf = signed_in_as(client, world["manager"])
    html = client.get("/schedules").get_data(as_text=True)
    row = re.search(rf'data-schedule-id="{world["schedule"]["id"]}">(.*?)</tr>', html, re.S)
    assert row and "Payments" in row.group(1) and ZONE in row.group(1)
    assert world["member"]["name"] in row.group(1) or world["manager"]["name"] in row.group(1)
    form = {"csrf_token": csrf, "name": "Secondary", "time_zone": "Europe/Berlin",
            "team_id": world["team"]["id"], "description": ""}  # fmt: skip
    created = client.post("/schedules", data=form)
    assert created.status_code == 303
    assert re.fullmatch(r"/schedules/[0-9a-f-]{36}", created.headers["Location"])
    assert client.get(created.headers["Location"]).status_code == 200
    assert client.post("/schedules", data={**form, "name": "Third", "time_zone": "Mars/Olympus"}
                       ).status_code == 422  # fmt: skip
    assert client.post("/schedules", data={**form, "name": "Secondary"}).status_code == 409
    assert client.post("/schedules", data={**form, "team_id": ""}).status_code == 403
    assert client.post("/schedules", data={**form, "team_id": str(uuid.uuid4())}).status_code == 422
    assert client.post("/schedules", data={**form, "csrf_token": "x"}).status_code == 403


def test_a_member_sees_no_create_form_and_cannot_create(client: Any, world: dict[str, Any]) -> None:
    csrf = signed_in_as(client, world["member"])
    assert "New schedule" not in client.get("/schedules").get_data(as_text=True)
    form = {"csrf_token": csrf, "name": "Mine", "time_zone": "UTC", "team_id": world["team"]["id"]}
    assert client.post("/schedules", data=form).status_code == 403


@pytest.mark.parametrize("view", ["week", "month", "list"])
def test_each_view_agrees_with_the_api_shift_by_shift(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any], view: str
) -> None:
    schedule_id = world["schedule"]["id"]
    manager, member = world["manager"], world["member"]
    # An override, a removal and a temporary schedule in the week of 2027-03-14 (DST starts).
    overrides.create_override(
        db_conn, schedule_id, {"kind": "replace", "add_user_id": member["id"],
                               "remove_user_id": manager["id"],
                               "start": datetime(2027, 3, 9, 17, tzinfo=UTC),
                               "end": datetime(2027, 3, 10, 5, tzinfo=UTC)},
    )  # fmt: skip
    temporary_schedules.create_temporary_schedule(
        db_conn, schedule_id, datetime(2027, 3, 12, 5, tzinfo=UTC),
        datetime(2027, 3, 13, 5, tzinfo=UTC),
        [{"user_id": manager["id"], "start": datetime(2027, 3, 12, 5, tzinfo=UTC),
          "end": datetime(2027, 3, 12, 17, tzinfo=UTC)}],
    )  # fmt: skip
    signed_in_as(client, world["other"])
    answer = client.get(f"/schedules/{schedule_id}?view={view}&date=2027-03-10")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    shown = page_shifts(html)
    assert shown and shown == api_shifts(client, schedule_id, html)
    assert ZONE in html
    assert "override: replace" in html and "temporary" in html
    assert 'class="shift src-' in html and "<button" not in html.split('id="calendar"')[1][:2000]


def test_a_daylight_saving_day_lasts_23_hours_in_the_week_view(
    client: Any, world: dict[str, Any]
) -> None:
    signed_in_as(client, world["manager"])
    html = client.get(f"/schedules/{world['schedule']['id']}?date=2027-03-14").get_data(
        as_text=True
    )
    day = html.split('id="day-2027-03-14"')[1].split("</section>")[0]
    assert "23-hour day" in day and "00:00\u201324:00" in day and "23 h" in day
    assert 'data-end="2027-03-15T04:00:00Z"' in day  # the week's end: a 23-hour Sunday


@pytest.mark.parametrize(
    "query", ["view=year", "date=2027-13-01", "date=20270101", "date=0001-01-01", "date=x" * 50]
)
def test_a_bad_view_or_date_is_a_422_page(client: Any, world: dict[str, Any], query: str) -> None:
    signed_in_as(client, world["member"])
    answer = client.get(f"/schedules/{world['schedule']['id']}?{query}")
    assert answer.status_code == 422
    assert "text/html" in answer.content_type


def test_a_missing_schedule_is_a_404_page(client: Any, world: dict[str, Any]) -> None:
    csrf = signed_in_as(client, world["manager"])
    missing = uuid.uuid4()
    assert client.get(f"/schedules/{missing}").status_code == 404
    assert client.post(f"/schedules/{missing}/rules", data={"csrf_token": csrf}).status_code == 404


def override_form(world: dict[str, Any], csrf: str, **changes: str) -> dict[str, str]:
    return {"csrf_token": csrf, "kind": "replace", "user_id": world["other"]["id"],
            "remove_user_id": world["manager"]["id"], "start": "2027-03-14T00:00",
            "end": "2027-03-15T00:00", **changes}  # fmt: skip


def test_an_override_from_the_dialog_is_stored_in_utc_from_the_viewers_zone(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    schedule_id = world["schedule"]["id"]
    csrf = signed_in_as(client, world["manager"])
    back = f"/schedules/{schedule_id}?view=week&date=2027-03-14"
    path = f"/schedules/{schedule_id}/overrides"
    done = client.post(path, data={**override_form(world, csrf), "back": back})
    assert done.status_code == 303
    assert done.headers["Location"] == back + "&did=override-added"
    (stored,) = overrides.list_overrides(db_conn, schedule_id)
    assert stored["start"] == datetime(2027, 3, 14, 5, tzinfo=UTC)
    assert stored["end"] - stored["start"] == timedelta(hours=23)
    assert (stored["kind"], stored["add_user_id"]) == ("replace", world["other"]["id"])
    audit = db_conn.execute(
        "SELECT actor_type, actor_id, action, target_type, target_id FROM audit_events "
        "WHERE action = 'create_override'"
    ).fetchone()
    assert audit is not None
    assert dict(audit) == {"actor_type": "user", "actor_id": world["manager"]["id"],
                           "action": "create_override", "target_type": "schedule_overrides",
                           "target_id": stored["id"]}  # fmt: skip
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Override saved." in html and f'data-override-id="{stored["id"]}"' in html
    removed = client.post(path, data=override_form(world, csrf, kind="remove", user_id=""))
    assert removed.status_code == 303
    elsewhere = client.post(path, data={**override_form(world, csrf), "back": "https://evil/"})
    assert elsewhere.headers["Location"].startswith(f"/schedules/{schedule_id}?")
    deleted = client.post(f"{path}/{stored['id']}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert (
        client.post(f"{path}/{stored['id']}/delete", data={"csrf_token": csrf}).status_code == 404
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": "swap"},
        {"start": "tomorrow"},
        {"end": ""},
        {"end": "2027-03-13T00:00"},
        {"user_id": "not-an-id"},
        {"remove_user_id": ""},
        {"user_id": "00000000-0000-4000-8000-000000000000"},
    ],
)
def test_a_bad_override_is_a_422_page(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any], changes: dict[str, str]
) -> None:
    csrf = signed_in_as(client, world["manager"])
    path = f"/schedules/{world['schedule']['id']}/overrides"
    assert client.post(path, data=override_form(world, csrf, **changes)).status_code == 422
    assert overrides.list_overrides(db_conn, world["schedule"]["id"]) == []


def test_only_the_owning_teams_managers_change_a_schedule(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    schedule_id = world["schedule"]["id"]
    csrf = signed_in_as(client, world["other"])  # manages team B
    html = client.get(f"/schedules/{schedule_id}").get_data(as_text=True)
    assert "Add a rule" not in html and 'action="/schedules/' not in html
    rule_id = schedule_rules.list_schedule_rules(db_conn, schedule_id)[0]["id"]
    for path in ("/overrides", "/rules", f"/rules/{rule_id}", f"/rules/{rule_id}/delete",
                 "/temporary-schedules"):  # fmt: skip
        assert client.post(f"/schedules/{schedule_id}{path}", data={"csrf_token": csrf}
                           ).status_code == 403, path  # fmt: skip
    client.post("/logout", data={"csrf_token": csrf})
    csrf = signed_in_as(client, world["manager"])
    no_token = client.post(f"/schedules/{schedule_id}/rules/{rule_id}/delete")
    assert no_token.status_code == 403
    assert len(schedule_rules.list_schedule_rules(db_conn, schedule_id)) == 1


def rule_form(world: dict[str, Any], csrf: str, **changes: Any) -> dict[str, Any]:
    return {"csrf_token": csrf, "target": f"user:{world['member']['id']}", "weekdays": ["0", "4"],
            "start_time": "22:00", "end_time": "06:00", **changes}  # fmt: skip


def test_rules_are_added_changed_and_deleted(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    schedule_id = world["schedule"]["id"]
    csrf = signed_in_as(client, world["manager"])
    path = f"/schedules/{schedule_id}/rules"
    assert client.post(path, data=rule_form(world, csrf)).status_code == 303
    added = schedule_rules.list_schedule_rules(db_conn, schedule_id)[-1]
    assert added["weekdays"] == [0, 4] and added["target_id"] == world["member"]["id"]
    changed = client.post(f"{path}/{added['id']}", data=rule_form(world, csrf, weekdays=["6"]))
    assert changed.status_code == 303
    assert schedule_rules.get_schedule_rule(db_conn, schedule_id, added["id"])["weekdays"] == [6]
    for bad in ({"target": "team:x"}, {"weekdays": []}, {"start_time": "25:00"},
                {"target": f"user:{uuid.uuid4()}"}):  # fmt: skip
        refused = client.post(path, data=rule_form(world, csrf, **bad))
        assert refused.status_code in (404, 422), bad  # as the API answers them
    assert client.post(f"{path}/{uuid.uuid4()}", data=rule_form(world, csrf)).status_code == 404
    assert client.post(f"{path}/{added['id']}/delete", data={"csrf_token": csrf}).status_code == 303
    assert len(schedule_rules.list_schedule_rules(db_conn, schedule_id)) == 1


def test_temporary_schedules_are_added_changed_and_deleted(
    client: Any, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    schedule_id = world["schedule"]["id"]
    csrf = signed_in_as(client, world["manager"])
    path = f"/schedules/{schedule_id}/temporary-schedules"
    form = {"csrf_token": csrf, "start": "2027-03-20T00:00", "end": "2027-03-21T00:00",
            "shift_user_0": world["other"]["id"], "shift_start_0": "2027-03-20T08:00",
            "shift_end_0": "2027-03-20T20:00"}  # fmt: skip
    assert client.post(path, data=form).status_code == 303
    (stored,) = temporary_schedules.list_temporary_schedules(db_conn, schedule_id)
    assert stored["start"] == datetime(2027, 3, 20, 4, tzinfo=UTC)
    assert stored["shifts"][0]["user_id"] == world["other"]["id"]
    html = client.get(f"/schedules/{schedule_id}?date=2027-03-20").get_data(as_text=True)
    assert "src-temporary" in html
    moved = client.post(f"{path}/{stored['id']}", data={**form, "end": "2027-03-22T00:00"})
    assert moved.status_code == 303
    assert temporary_schedules.get_temporary_schedule(db_conn, schedule_id, stored["id"])[
        "end"] == datetime(2027, 3, 22, 4, tzinfo=UTC)  # fmt: skip
    outside = {**form, "shift_end_0": "2027-03-23T20:00"}
    assert client.post(path, data=outside).status_code == 422
    assert client.post(path, data={**form, "shift_start_0": ""}).status_code == 422
    assert client.post(f"{path}/{uuid.uuid4()}", data=form).status_code == 404
    assert (
        client.post(f"{path}/{stored['id']}/delete", data={"csrf_token": csrf}).status_code == 303
    )
    assert temporary_schedules.list_temporary_schedules(db_conn, schedule_id) == []


def test_without_a_session_the_page_sends_to_sign_in(client: Any, world: dict[str, Any]) -> None:
    answer = client.get(f"/schedules/{world['schedule']['id']}?view=month")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/login?next=")
