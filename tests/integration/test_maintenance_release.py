"""Changing a service's maintenance window through the API releases the alerts it holds at once:
ending it (null), moving its end into the past, or shortening it (held until the new end, not the
old); extending it holds them longer. Alerts the window does not hold are left alone.

The PATCH goes through the real API (Flask's test client, real Postgres); the escalation module
then runs in-process, as one engine cycle would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.escalation import escalation_pass as escalation
from tests.support import engine_world as w
from tests.support.api import Api
from tests.support.engine_world import _make_ctx  # noqa: F401 - the make_ctx fixture
from tests.support.wait import wait_until

HOUR = timedelta(hours=1)


@pytest.fixture
def ctx(make_ctx):
    return make_ctx()


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("write"))


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def set_window(api: Api, service: str, until: datetime | None) -> None:
    body = {"maintenance_until": iso(until) if until else None}
    response = api.patch(f"/services/{service}", json=body)
    assert response.status_code == 200, response.get_json()


def held_alert(db_conn, ctx, api, make_service) -> tuple[str, int, str, datetime]:
    """A service in maintenance for the next hour and an alert it holds: (service, alert, user,
    the window's end)."""
    service = make_service()["id"]
    alice, _ = w.reachable_user(db_conn)
    steps = [(5, [("user", alice)]), (5, [("user", alice)])]
    w.use_policy(db_conn, service, w.policy(db_conn, steps))
    until = db_now(db_conn).replace(microsecond=0) + HOUR
    set_window(api, service, until)
    alert_id = w.alert(db_conn, service)
    escalation.run(ctx)
    state = w.escalation(db_conn, alert_id)
    assert state["held"] and state["next_step_at"] == until
    assert [e["event"] for e in w.log_events(db_conn, alert_id)] == ["created", "escalation_held"]
    assert w.engagements(db_conn, alert_id) == {}
    return service, alert_id, alice, until


def db_now(db_conn) -> datetime:
    return db_conn.execute("SELECT now() AS t").fetchone()["t"]


@pytest.mark.parametrize("end", ["null", "past"])
def test_ending_the_window_early_releases_held_alerts_at_once(db_conn, ctx, api, make_service, end):
    service, alert_id, alice, _ = held_alert(db_conn, ctx, api, make_service)

    set_window(api, service, None if end == "null" else db_now(db_conn) - timedelta(minutes=1))

    # Due at once, not at the old end an hour away; the next cycle pages.
    assert w.escalation(db_conn, alert_id)["due_in"] <= timedelta(0)
    escalation.run(ctx)
    assert set(w.engagements(db_conn, alert_id)) == {alice}
    [fired] = w.log_events(db_conn, alert_id, "escalated")
    assert fired["meta"]["step"] == 0 and fired["meta"]["users"] == [alice]
    state = w.escalation(db_conn, alert_id)
    assert not state["held"] and state["step_index"] == 1


def test_a_shortened_window_holds_until_its_new_end_then_releases(db_conn, ctx, api, make_service):
    service, alert_id, alice, old_end = held_alert(db_conn, ctx, api, make_service)
    new_end = db_now(db_conn) + timedelta(seconds=2)

    set_window(api, service, new_end)
    escalation.run(ctx)

    state = w.escalation(db_conn, alert_id)
    assert state["held"] and state["next_step_at"] == new_end
    assert w.engagements(db_conn, alert_id) == {}
    assert len(w.log_events(db_conn, alert_id, "escalation_held")) == 1  # logged once per hold
    wait_until(
        lambda: (escalation.run(ctx), w.engagements(db_conn, alert_id))[1],
        10,
        "the held step firing at the window's new end",
    )
    assert db_now(db_conn) < old_end
    assert set(w.engagements(db_conn, alert_id)) == {alice}
    assert not w.escalation(db_conn, alert_id)["held"]


def test_an_extended_window_holds_until_its_new_end(db_conn, ctx, api, make_service):
    service, alert_id, _, old_end = held_alert(db_conn, ctx, api, make_service)

    set_window(api, service, old_end + HOUR)
    escalation.run(ctx)

    state = w.escalation(db_conn, alert_id)
    assert state["held"] and state["next_step_at"] == old_end + HOUR
    assert len(w.log_events(db_conn, alert_id, "escalation_held")) == 1
    assert w.engagements(db_conn, alert_id) == {}


def test_a_window_change_leaves_alerts_it_does_not_hold_alone(db_conn, ctx, api, make_service):
    service, held_id, _, _ = held_alert(db_conn, ctx, api, make_service)
    other_service, other_held, _, other_end = held_alert(db_conn, ctx, api, make_service)
    # Released, it fires step 0 and then waits 5 minutes for step 1, held by nothing.
    set_window(api, service, None)
    escalation.run(ctx)
    waiting = w.escalation(db_conn, held_id)
    assert waiting["step_index"] == 1 and waiting["due_in"] > timedelta(minutes=4)

    set_window(api, service, db_now(db_conn) + HOUR)
    set_window(api, service, None)

    assert w.escalation(db_conn, held_id)["next_step_at"] == waiting["next_step_at"]
    other = w.escalation(db_conn, other_held)
    assert other["held"] and other["next_step_at"] == other_end
    assert other_service != service
