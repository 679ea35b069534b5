"""Shift swaps through /api/v1/schedules/<id>/swaps: asking for cover (only for one's own
shift), taking it (a replace override, in one transaction; one winner of two), withdrawing,
expiry, who may, and the messages queued to the schedule's notice channel and members."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from app.oncall import swaps
from tests.support.api import Api
from tests.support.signin import make_user
from tests.support.swaps import iso, swap_world, tomorrow_at
from tests.support.teams import make_team
from tests.support.wait import wait_until

SPAN = {"start": iso(tomorrow_at(10)), "end": iso(tomorrow_at(12))}


def as_(client: Any, world: dict[str, Any], name: str) -> Api:
    return Api(client, world["keys"][name])


def ask(client: Any, world: dict[str, Any], name: str = "alice", **body: Any) -> Any:
    return as_(client, world, name).post(
        f"/schedules/{world['schedule']}/swaps", json={**SPAN, "note": "dentist", **body}
    )


def messages(conn: psycopg.Connection[Any], event: str) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT kind, channel_id::text AS channel_id, contact_method_id::text AS method, "
        "user_id::text AS user_id, payload FROM outgoing_messages "
        "WHERE kind = 'shift_swap' AND payload->>'event' = %s ORDER BY id",
        (event,),
    ).fetchall()


def told(world: dict[str, Any], rows: list[dict[str, Any]]) -> set[str]:
    """Who the rows went to: 'channel', or a person's name."""
    names = {method: name for name, method in world["methods"].items()}
    return {"channel" if r["channel_id"] else names[r["method"]] for r in rows}


@pytest.fixture
def world(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    return swap_world(db_conn)


def test_only_a_person_on_call_for_all_of_it_asks_for_cover(
    client: Any, world: dict[str, Any], db_conn: psycopg.Connection[Any],
    make_api_key: Callable[[str], str],
) -> None:  # fmt: skip
    path = f"/schedules/{world['schedule']}/swaps"
    early = {"start": iso(tomorrow_at(8)), "end": iso(tomorrow_at(10))}
    refused = ask(client, world, **early)  # Alice's shift starts at 09:00
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["code"] == "not_on_call"
    assert "09:00" in refused.get_json()["error"] or "T08:00" in refused.get_json()["error"]
    assert ask(client, world, "bob").status_code == 409  # Bob is on nights
    for body, field in (
        ({"end": SPAN["start"]}, "end"),
        ({"end": iso(tomorrow_at(10, days=40))}, "end"),
        ({"start": iso(tomorrow_at(10, days=-3)), "end": iso(tomorrow_at(10, days=-2))}, "end"),
        ({"note": "x" * 1001}, "note"),
    ):
        response = ask(client, world, **body)
        assert response.status_code == 422, (body, response.get_json())
        assert response.get_json()["details"]["errors"][0]["field"] == field
    for scope_key in (make_api_key("write"),):  # a service key has no user
        response = Api(client, scope_key).post(path, json=SPAN)
        assert response.status_code == 403
        assert "personal API key" in response.get_json()["error"]
    team = make_team(db_conn)
    from app.directory import api_keys

    team_key = api_keys.create_api_key(db_conn, "t", "write", owner_team_id=team["id"])["key"]
    assert Api(client, team_key).post(path, json=SPAN).status_code == 403

    asked = ask(client, world)
    assert asked.status_code == 201, asked.get_json()
    swap = asked.get_json()
    assert (swap["status"], swap["requester_id"], swap["note"]) == (
        "open", world["ids"]["alice"], "dentist",
    )  # fmt: skip
    assert (swap["start"], swap["end"]) == (SPAN["start"], SPAN["end"])
    assert ask(client, world).status_code == 409  # the same stretch twice
    # A start in the past becomes now: cover is for what is still to come.
    now = datetime.now(UTC)
    if 9 < now.hour < 16:
        today = {"start": iso(tomorrow_at(9, days=0)), "end": iso(tomorrow_at(16, days=0))}
        started = ask(client, world, **today).get_json()
        assert datetime.fromisoformat(started["start"]) >= now - timedelta(seconds=1)


def test_taking_replaces_the_requester_and_tells_the_channel_and_members(
    client: Any, world: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    swap = ask(client, world).get_json()
    requested = messages(db_conn, "requested")
    # The channel and the members (Bob and Dave of the rotation) — not Alice, who asked, nor
    # Carol, who is in no rule.
    assert told(world, requested) == {"channel", "bob", "dave"}
    payload = requested[0]["payload"]
    assert payload["url"].endswith(f"/schedules/{world['schedule']}/swaps/{swap['id']}")
    assert (payload["requester"]["name"], payload["schedule_name"]) == ("Alice", "Primary")

    base = f"/schedules/{world['schedule']}/swaps/{swap['id']}"
    assert as_(client, world, "alice").post(base + "/take").status_code == 409  # her own
    taken = as_(client, world, "carol").post(base + "/take")
    assert taken.status_code == 200, taken.get_json()
    body = taken.get_json()
    assert (body["status"], body["taken_by"]) == ("taken", world["ids"]["carol"])
    override = (
        as_(client, world, "carol")
        .get(f"/schedules/{world['schedule']}/overrides/{body['override_id']}")
        .get_json()
    )
    assert (override["kind"], override["add_user_id"], override["remove_user_id"]) == (
        "replace", world["ids"]["carol"], world["ids"]["alice"],
    )  # fmt: skip
    shifts = (
        as_(client, world, "carol")
        .get(
            f"/schedules/{world['schedule']}/shifts",
            query_string={"start": iso(tomorrow_at(9)), "end": iso(tomorrow_at(17))},
        )
        .get_json()["items"]
    )
    who = [(s["user_id"], s["start"], s["end"]) for s in shifts]
    ids = world["ids"]
    assert who == [
        (ids["alice"], iso(tomorrow_at(9)), iso(tomorrow_at(10))),
        (ids["carol"], iso(tomorrow_at(10)), iso(tomorrow_at(12))),
        (ids["alice"], iso(tomorrow_at(12)), iso(tomorrow_at(17))),
    ]
    assert told(world, messages(db_conn, "taken")) == {"channel", "alice", "bob", "dave"}
    again = as_(client, world, "bob").post(base + "/take")
    assert again.status_code == 409 and again.get_json()["code"] == "swap_not_open"
    assert as_(client, world, "alice").post(base + "/withdraw").status_code == 409
    listed = as_(client, world, "bob").get(f"/schedules/{world['schedule']}/swaps").get_json()
    assert [s["status"] for s in listed["items"]] == ["taken"]
    # An audit row names the take, with the override folded in.
    event = db_conn.execute(
        "SELECT action, target_type, target_id, changes FROM audit_events "
        "WHERE action = 'take_shift_swap'"
    ).fetchone()
    assert (event["target_type"], event["target_id"]) == ("shift_swaps", swap["id"])
    assert {c["table"] for c in event["changes"]} == {"shift_swaps", "schedule_overrides"}


def test_a_failed_override_leaves_the_swap_open(
    client: Any, world: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    swap = ask(client, world).get_json()
    # Make creating the override fail inside the take's transaction (a check no new row meets).
    db_conn.execute(
        "ALTER TABLE schedule_overrides ADD CONSTRAINT test_no_new CHECK (start_at < '2000-01-01') "
        "NOT VALID"
    )
    path = f"/schedules/{world['schedule']}/swaps/{swap['id']}"
    response = as_(client, world, "carol").post(path + "/take")
    assert response.status_code == 422, response.get_json()
    again = as_(client, world, "carol").get(path).get_json()
    assert (again["status"], again["taken_by"], again["override_id"]) == ("open", None, None)
    assert db_conn.execute("SELECT count(*) AS n FROM schedule_overrides").fetchone()["n"] == 0
    assert messages(db_conn, "taken") == []
    db_conn.execute("ALTER TABLE schedule_overrides DROP CONSTRAINT test_no_new")
    assert as_(client, world, "carol").post(path + "/take").status_code == 200


def test_of_two_takers_at_once_exactly_one_wins(
    client: Any, world: dict[str, Any], db_conn: psycopg.Connection[Any], database_url: str
) -> None:
    swap = ask(client, world).get_json()
    now = datetime.now(UTC)
    args = (world["schedule"], swap["id"])
    first = psycopg.connect(database_url, row_factory=dict_row)
    second = psycopg.connect(database_url, row_factory=dict_row)
    outcome: dict[str, Any] = {}

    def take_second() -> None:
        try:
            with second.transaction():
                swaps.take_swap(second, *args, world["ids"]["bob"], now)
            outcome["second"] = "took"
        except swaps.SwapClosed as exc:
            outcome["second"] = exc

    try:
        with first.transaction():
            swaps.take_swap(first, *args, world["ids"]["carol"], now)
            thread = threading.Thread(target=take_second)
            thread.start()
            wait_until(  # the second waits on the first's lock of the swap row
                lambda: db_conn.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'",
                    (second.info.backend_pid,),
                ).fetchone(),
                10,
                "the second taker waiting for the row lock",
            )
        thread.join(10)
    finally:
        first.close()
        second.close()
    assert isinstance(outcome["second"], swaps.SwapClosed), outcome
    assert outcome["second"].status == 409
    rows = db_conn.execute("SELECT add_user_id::text AS u FROM schedule_overrides").fetchall()
    assert [r["u"] for r in rows] == [world["ids"]["carol"]]


def test_two_takers_through_the_api_get_one_200_and_one_409(
    web_app: Any, world: dict[str, Any]
) -> None:
    swap = ask(web_app.test_client(), world).get_json()
    path = f"/schedules/{world['schedule']}/swaps/{swap['id']}/take"
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def take(name: str) -> None:
        api = as_(web_app.test_client(), world, name)
        barrier.wait(10)
        statuses.append(api.post(path).status_code)

    threads = [threading.Thread(target=take, args=(n,)) for n in ("bob", "carol")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [200, 409]


def test_withdrawing_is_for_the_requester_or_the_team_and_only_while_open(
    client: Any, db_conn: psycopg.Connection[Any]
) -> None:
    manager, outsider_manager = make_user(db_conn), make_user(db_conn)
    team = make_team(db_conn, managers=[manager])
    make_team(db_conn, managers=[outsider_manager])
    world = swap_world(db_conn, team_id=team["id"])
    from app.directory import api_keys

    def key(user: dict[str, Any]) -> Api:
        return Api(client, api_keys.create_api_key(db_conn, "k", "write", user["id"])["key"])

    base = f"/schedules/{world['schedule']}/swaps"
    first = ask(client, world).get_json()
    for refused in (as_(client, world, "carol"), key(outsider_manager)):
        response = refused.post(f"{base}/{first['id']}/withdraw")
        assert response.status_code == 403, response.get_json()
    withdrawn = as_(client, world, "alice").post(f"{base}/{first['id']}/withdraw")
    assert withdrawn.status_code == 200
    assert withdrawn.get_json()["status"] == "withdrawn"
    assert withdrawn.get_json()["withdrawn_at"] is not None
    assert told(world, messages(db_conn, "withdrawn")) == {"channel", "bob", "dave"}
    assert as_(client, world, "carol").post(f"{base}/{first['id']}/take").status_code == 409
    assert as_(client, world, "alice").post(f"{base}/{first['id']}/withdraw").status_code == 409

    second = ask(client, world).get_json()  # the stretch is free again
    assert key(manager).post(f"{base}/{second['id']}/withdraw").status_code == 200
    missing = "00000000-0000-4000-8000-000000000000"
    assert as_(client, world, "alice").post(f"{base}/{missing}/withdraw").status_code == 404
    assert as_(client, world, "alice").get(f"{base}/{missing}").status_code == 404
    assert as_(client, world, "alice").get(f"/schedules/{missing}/swaps").status_code == 404
    assert (
        as_(client, world, "carol").post(f"/schedules/{missing}/swaps/{missing}/take").status_code
        == 404
    )


def test_an_open_swap_whose_end_passed_is_expired(
    client: Any, world: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    swap = ask(client, world).get_json()
    db_conn.execute(
        "UPDATE shift_swaps SET start_at = now() - interval '3 hours', "
        "end_at = now() - interval '1 hour' WHERE id = %s",
        (swap["id"],),
    )
    base = f"/schedules/{world['schedule']}/swaps"
    assert as_(client, world, "bob").get(f"{base}/{swap['id']}").get_json()["status"] == "expired"
    taken = as_(client, world, "carol").post(f"{base}/{swap['id']}/take")
    assert taken.status_code == 409 and "expired" in taken.get_json()["error"]
    assert as_(client, world, "alice").post(f"{base}/{swap['id']}/withdraw").status_code == 409
    assert as_(client, world, "bob").get(base, query_string={"status": "open"}).get_json() == {
        "items": []
    }
    expired = as_(client, world, "bob").get(base, query_string={"status": "expired"}).get_json()
    assert [s["id"] for s in expired["items"]] == [swap["id"]]
    assert as_(client, world, "bob").get(base, query_string={"status": "gone"}).status_code == 422


def test_the_list_puts_open_swaps_first(
    client: Any, world: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    late = ask(client, world, start=iso(tomorrow_at(13)), end=iso(tomorrow_at(14))).get_json()
    early = ask(client, world).get_json()
    gone = ask(client, world, start=iso(tomorrow_at(15)), end=iso(tomorrow_at(16))).get_json()
    base = f"/schedules/{world['schedule']}/swaps"
    as_(client, world, "alice").post(f"{base}/{gone['id']}/withdraw")
    items = as_(client, world, "bob").get(base).get_json()["items"]
    assert [s["id"] for s in items] == [early["id"], late["id"], gone["id"]]
    limited = as_(client, world, "bob").get(base, query_string={"limit": 1}).get_json()
    assert [s["id"] for s in limited["items"]] == [early["id"]]
    assert as_(client, world, "bob").get(base, query_string={"limit": 201}).status_code == 422
