"""Calendar subscriptions: a token URL serving the shifts as iCalendar, revocable, never logged."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import structlog
from icalendar import Calendar

from app.directory import users as directory_users
from app.oncall import compute
from app.oncall.loading import load_schedule, rotation_ids_of
from app.oncall.rotations import load_rotations
from tests.support.api import Api, created

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


PEOPLE = ("Ada Lovelace", "Grace Hopper")  # the users fixture's names, in order


@pytest.fixture
def users(db_conn: psycopg.Connection[Any]) -> list[str]:
    return [
        directory_users.create_user(db_conn, name, f"c{n}-{uuid.uuid4().hex[:6]}@example.com")["id"]
        for n, name in enumerate(PEOPLE)
    ]


def rotating_schedule(api: Api, users: list[str], name: str = "Payments") -> dict[str, Any]:
    """A daily 09:00 Berlin rotation of both users, all day, every day."""
    schedule = created(api.post("/schedules", json={"name": name, "time_zone": "Europe/Berlin"}))
    rotation = created(
        api.post(
            "/rotations",
            json={
                "name": f"{name} rotation",
                "type": "daily",
                "start": "2026-01-05T09:00:00+01:00",
                "time_zone": "Europe/Berlin",
                "participants": users,
            },
        )
    )
    rule = {"target_type": "rotation", "target_id": rotation["id"]}
    created(api.post(f"/schedules/{schedule['id']}/rules", json=rule))
    return schedule


def feed(client: Any, url: str) -> Any:
    return client.get(urlsplit(url).path)


def events(response: Any) -> list[Any]:
    assert response.status_code == 200, response.data[:200]
    assert response.mimetype == "text/calendar"
    return list(Calendar.from_ical(response.data).walk("VEVENT"))


def test_schedule_feed_round_trips_the_shifts(
    api: Api, client: Any, users: list[str], db_conn: psycopg.Connection[Any]
) -> None:
    schedule = rotating_schedule(api, users)
    subscription = created(api.post(f"/schedules/{schedule['id']}/calendar-subscriptions"))
    assert subscription["url"].startswith(f"{PUBLIC_URL}/calendar/klc_")
    assert subscription["url"].endswith(".ics") and subscription["schedule_id"] == schedule["id"]
    found = events(feed(client, subscription["url"]))
    value = load_schedule(db_conn, schedule["id"])
    assert value is not None
    rotations = load_rotations(db_conn, rotation_ids_of(value))
    first = min(event.decoded("dtstart") for event in found)
    last = max(event.decoded("dtend") for event in found)
    expected = compute.schedule_shifts(value, rotations, first, last)
    assert 55 <= len(found) <= 65  # one a day for about 60 days
    assert [(e.decoded("dtstart"), e.decoded("dtend")) for e in found] == [
        (s.start, s.end) for s in expected
    ]
    assert all(e.decoded("dtstart").utcoffset() == timedelta(0) for e in found)
    names = dict(zip(users, PEOPLE, strict=True))
    assert [str(e["summary"]) for e in found] == [f"On call: {names[s.user_id]}" for s in expected]
    assert {str(e["description"]) for e in found} == {"Schedule: Payments"}
    assert len({str(e["uid"]) for e in found}) == len(found)


def test_uids_are_stable_across_refreshes(api: Api, client: Any, users: list[str]) -> None:
    schedule = rotating_schedule(api, users)
    url = created(api.post(f"/schedules/{schedule['id']}/calendar-subscriptions"))["url"]
    first = {str(e["uid"]): e.decoded("dtstart") for e in events(feed(client, url))}
    second = {str(e["uid"]): e.decoded("dtstart") for e in events(feed(client, url))}
    assert first == second


def test_user_feed_shows_only_their_shifts_across_schedules(
    api: Api, client: Any, users: list[str]
) -> None:
    rotating_schedule(api, users, "Payments")
    other = created(api.post("/schedules", json={"name": "Search", "time_zone": "UTC"}))
    soon = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    override = {
        "kind": "add",
        "add_user_id": users[0],
        "start": soon.isoformat(),
        "end": (soon + timedelta(hours=3)).isoformat(),
    }
    created(api.post(f"/schedules/{other['id']}/overrides", json=override))
    url = created(api.post(f"/users/{users[0]}/calendar-subscriptions"))["url"]
    found = events(feed(client, url))
    summaries = [str(e["summary"]) for e in found]
    assert summaries.count("On call: Search") == 1
    assert 25 <= summaries.count("On call: Payments") <= 35  # every other day
    search = next(e for e in found if str(e["summary"]) == "On call: Search")
    assert search.decoded("dtstart") == soon


def test_revoked_and_unknown_tokens_are_404(api: Api, client: Any, users: list[str]) -> None:
    schedule = rotating_schedule(api, users)
    subscription = created(api.post(f"/schedules/{schedule['id']}/calendar-subscriptions"))
    path = f"/schedules/{schedule['id']}/calendar-subscriptions/{subscription['id']}"
    assert api.delete(path).status_code == 204
    assert feed(client, subscription["url"]).status_code == 404
    assert (
        api.delete(f"/users/{users[0]}/calendar-subscriptions/{subscription['id']}").status_code
        == 404
    )
    token = urlsplit(subscription["url"]).path.removeprefix("/calendar/").removesuffix(".ics")
    key_id, _, secret = token.removeprefix("klc_").partition("_")
    for bad in (f"klc_{key_id}_wrong", f"klc_{uuid.uuid4().hex}_{secret}", "nonsense"):
        assert client.get(f"/calendar/{bad}.ics").status_code == 404
    user_feed = created(api.post(f"/users/{users[0]}/calendar-subscriptions"))
    revoke = f"/users/{users[0]}/calendar-subscriptions/{user_feed['id']}"
    assert api.delete(revoke).status_code == 204
    assert feed(client, user_feed["url"]).status_code == 404


def test_subscriptions_for_unknown_owners_are_404(api: Api) -> None:
    assert api.post(f"/schedules/{uuid.uuid4()}/calendar-subscriptions").status_code == 404
    assert api.post(f"/users/{uuid.uuid4()}/calendar-subscriptions").status_code == 404


def test_feed_tokens_stay_out_of_the_logs(
    api: Api, client: Any, users: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    schedule = rotating_schedule(api, users)
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logged:
        url = created(api.post(f"/schedules/{schedule['id']}/calendar-subscriptions"))["url"]
        assert feed(client, url).status_code == 200
    secret = feed_secret(url)
    assert secret not in repr(logged) + caplog.text


def feed_secret(url: str) -> str:
    """The secret of a feed URL's token `klc_<id hex>_<secret>` (the secret is URL-safe base64
    and may itself hold "_", so split from the left)."""
    secret = urlsplit(url).path.rsplit("/", 1)[1].removesuffix(".ics").split("_", 2)[2]
    assert len(secret) >= 32
    return secret


def test_only_a_hash_of_the_token_is_stored(
    api: Api, users: list[str], db_conn: psycopg.Connection[Any]
) -> None:
    url = created(api.post(f"/users/{users[0]}/calendar-subscriptions"))["url"]
    secret = feed_secret(url)
    row = db_conn.execute("SELECT secret_hash FROM calendar_subscriptions").fetchone()
    assert row is not None and secret.encode() not in bytes(row["secret_hash"])
    assert len(bytes(row["secret_hash"])) == 32  # SHA-256


def test_a_schedule_that_cannot_be_computed_does_not_blank_a_users_feed(
    api: Api, client: Any, users: list[str], db_conn: psycopg.Connection[Any]
) -> None:
    broken = rotating_schedule(api, [users[1]], "Broken")  # loses its only participant below
    soon = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    other = created(api.post("/schedules", json={"name": "Working", "time_zone": "UTC"}))
    span = {"start": soon.isoformat(), "end": (soon + timedelta(hours=1)).isoformat()}
    created(
        api.post(
            f"/schedules/{other['id']}/overrides",
            json={"kind": "add", "add_user_id": users[0], **span},
        )
    )
    created(
        api.post(
            f"/schedules/{broken['id']}/overrides",
            json={"kind": "add", "add_user_id": users[0], **span},
        )
    )
    directory_users.delete_user(db_conn, users[1])
    shifts = api.get(f"/schedules/{broken['id']}/shifts")
    assert shifts.status_code == 409 and shifts.get_json()["code"] == "schedule_not_computable"
    assert "no participants" in shifts.get_json()["error"]
    url = created(api.post(f"/users/{users[0]}/calendar-subscriptions"))["url"]
    assert [str(e["summary"]) for e in events(feed(client, url))] == ["On call: Working"]
    next_shift = api.get(f"/users/{users[0]}/on-call-next").get_json()["shift"]
    assert next_shift["schedule_id"] == other["id"]


def test_schedule_feed_names_the_person_on_call(api: Api, client: Any, users: list[str]) -> None:
    schedule = created(api.post("/schedules", json={"name": "Search", "time_zone": "UTC"}))
    soon = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    for n, user_id in enumerate(users):
        span = {
            "start": (soon + timedelta(hours=2 * n)).isoformat(),
            "end": (soon + timedelta(hours=2 * n + 1)).isoformat(),
        }
        created(
            api.post(
                f"/schedules/{schedule['id']}/overrides",
                json={"kind": "add", "add_user_id": user_id, **span},
            )
        )
    url = created(api.post(f"/schedules/{schedule['id']}/calendar-subscriptions"))["url"]
    found = events(feed(client, url))
    assert [(str(e["summary"]), e.decoded("dtstart")) for e in found] == [
        ("On call: Ada Lovelace", soon),
        ("On call: Grace Hopper", soon + timedelta(hours=2)),
    ]
    assert [str(e["description"]) for e in found] == ["Schedule: Search"] * 2
    # The user's own feed keeps naming the schedule: every event in it is theirs.
    own = created(api.post(f"/users/{users[1]}/calendar-subscriptions"))["url"]
    assert [str(e["summary"]) for e in events(feed(client, own))] == ["On call: Search"]


SUBSCRIPTION_FIELDS = {"id", "user_id", "schedule_id", "created_at", "revoked_at"}


def test_subscriptions_are_listed_without_their_tokens(
    api: Api, client: Any, make_api_key: Callable[[str], str], users: list[str]
) -> None:
    schedule = rotating_schedule(api, users)
    feeds = f"/schedules/{schedule['id']}/calendar-subscriptions"
    made = [created(api.post(feeds)) for _ in range(3)]
    assert api.delete(f"{feeds}/{made[1]['id']}").status_code == 204
    created(api.post(f"/users/{users[0]}/calendar-subscriptions"))  # another owner's
    reader = Api(client, make_api_key("read"))
    listed = reader.walk(feeds, limit=2)
    assert [item["id"] for item in listed] == [m["id"] for m in made]
    assert all(set(item) == SUBSCRIPTION_FIELDS for item in listed)
    assert [item["revoked_at"] is None for item in listed] == [True, False, True]
    assert {item["schedule_id"] for item in listed} == {schedule["id"]}
    assert [item["created_at"] for item in listed] == [m["created_at"] for m in made]
    page = reader.get(feeds, query_string={"limit": 3})
    for subscription in made:
        secret = feed_secret(subscription["url"])
        assert secret.encode() not in page.data
    assert reader.post(feeds).status_code == 403


def test_user_subscriptions_are_listed(
    api: Api, client: Any, make_api_key: Callable[[str], str], users: list[str]
) -> None:
    feeds = f"/users/{users[0]}/calendar-subscriptions"
    first, second = created(api.post(feeds)), created(api.post(feeds))
    created(api.post(f"/users/{users[1]}/calendar-subscriptions"))
    assert api.delete(f"{feeds}/{first['id']}").status_code == 204
    listed = Api(client, make_api_key("read")).walk(feeds, limit=1)
    assert [item["id"] for item in listed] == [first["id"], second["id"]]
    assert all(set(item) == SUBSCRIPTION_FIELDS for item in listed)
    assert listed[0]["revoked_at"] is not None and listed[1]["revoked_at"] is None
    assert {item["user_id"] for item in listed} == {users[0]}
    assert api.get(f"/users/{users[1]}/calendar-subscriptions").get_json()["next_cursor"] is None


def test_listing_subscriptions_of_unknown_owners_is_404(api: Api, users: list[str]) -> None:
    assert api.get(f"/schedules/{uuid.uuid4()}/calendar-subscriptions").status_code == 404
    assert api.get(f"/users/{uuid.uuid4()}/calendar-subscriptions").status_code == 404
    feeds = f"/users/{users[0]}/calendar-subscriptions"
    assert api.get(feeds, query_string={"cursor": "nonsense"}).status_code == 400
    assert api.get(feeds, query_string={"limit": 0}).status_code == 422
