"""Status updates: acknowledge/close notices go only to contact methods that opted in and were
already paged, and to channels that were sent the alert and keep status updates on."""

from __future__ import annotations

import pytest

from app.alerts.store import Actor, set_status
from app.escalation import escalation_pass as escalation
from app.escalation import notification_pass as notification_rules
from app.escalation import status_update_pass as status_updates
from tests.support import engine_world as w
from tests.support.engine_world import _make_ctx  # noqa: F401 - the make_ctx fixture


@pytest.fixture
def ctx(make_ctx):
    return make_ctx()


@pytest.fixture
def paged(db_conn, ctx, make_service):
    """An alert that reached some people and channels and not others."""
    service = make_service()["id"]
    alice = w.user(db_conn, "alice")
    opted_in = w.method(db_conn, alice, status_updates=True)
    opted_out = w.method(db_conn, alice, type="sms", status_updates=False)
    w.rule(db_conn, alice, opted_in, 0)
    w.rule(db_conn, alice, opted_out, 0)
    bob, never_reached = w.reachable_user(db_conn, "bob", status_updates=True)
    carol, _not_engaged = w.reachable_user(db_conn, "carol", status_updates=True)
    room, quiet_room = w.channel(db_conn), w.channel(db_conn, status_updates=False)
    steps = [
        (5, [("user", alice), ("user", bob), ("channel", room), ("channel", quiet_room)]),
        (5, [("user", carol)]),
    ]
    w.use_policy(db_conn, service, w.policy(db_conn, steps))
    alert_id = w.alert(db_conn, service)
    escalation.run(ctx)
    notification_rules.run(ctx)
    sent = [
        m["id"]
        for m in w.messages(db_conn, alert_id)
        if m["contact_method_id"] != never_reached  # bob's page is still pending
    ]
    w.mark_sent(db_conn, sent)
    status_updates.run(ctx)  # nothing owed yet
    assert w.messages(db_conn, alert_id, "status_update") == []
    return {"alert_id": alert_id, "opted_in": opted_in, "room": room, "alice": alice}


def notices(conn, alert_id):
    return sorted(
        (m["payload"]["status"], m["contact_method_id"] or m["channel_id"], m["dedup_key"])
        for m in w.messages(conn, alert_id, "status_update")
    )


def test_acknowledge_and_close_notices_reach_only_opted_in_paged_destinations(db_conn, ctx, paged):
    alert_id, opted_in, room = paged["alert_id"], paged["opted_in"], paged["room"]
    set_status(db_conn, alert_id, "acknowledged", Actor("user"))
    status_updates.run(ctx)
    status_updates.run(ctx)
    assert notices(db_conn, alert_id) == sorted(
        [
            ("acknowledged", opted_in, f"status:{alert_id}:acknowledged:{opted_in}"),
            ("acknowledged", room, f"status:{alert_id}:acknowledged:{room}"),
        ]
    )
    state = w.escalation(db_conn, alert_id)
    assert (state["notified_status"], state["status_changed"]) == ("acknowledged", False)

    set_status(db_conn, alert_id, "closed", Actor("user"))
    status_updates.run(ctx)
    assert [n[:2] for n in notices(db_conn, alert_id)] == sorted(
        [("acknowledged", opted_in), ("acknowledged", room), ("closed", opted_in), ("closed", room)]
    )
    by_method = [
        m
        for m in w.messages(db_conn, alert_id, "status_update")
        if m["contact_method_id"] == opted_in
    ]
    assert {(m["user_id"], m["provider"]) for m in by_method} == {(paged["alice"], "smtp")}


def test_acknowledged_then_closed_before_the_module_runs_sends_only_the_close(db_conn, ctx, paged):
    alert_id = paged["alert_id"]
    set_status(db_conn, alert_id, "acknowledged", Actor("user"))
    set_status(db_conn, alert_id, "closed", Actor("user"))
    status_updates.run(ctx)
    assert [n[:2] for n in notices(db_conn, alert_id)] == sorted(
        [("closed", paged["opted_in"]), ("closed", paged["room"])]
    )


def test_a_method_disabled_since_the_page_gets_no_notice(db_conn, ctx, paged):
    db_conn.execute(
        "UPDATE contact_methods SET disabled = true WHERE id = %s", (paged["opted_in"],)
    )
    set_status(db_conn, paged["alert_id"], "closed", Actor("user"))
    status_updates.run(ctx)
    assert [n[:2] for n in notices(db_conn, paged["alert_id"])] == [("closed", paged["room"])]


def test_the_person_who_made_the_change_gets_no_notice_of_it(db_conn, ctx, paged):
    """Alice acknowledges (say, by SMS): her own methods are not told; the channel is. The
    close comes from someone else (an API key), so Alice hears of that one."""
    alert_id, opted_in, room = paged["alert_id"], paged["opted_in"], paged["room"]
    set_status(db_conn, alert_id, "acknowledged", Actor("user", paged["alice"]))
    status_updates.run(ctx)
    assert [n[:2] for n in notices(db_conn, alert_id)] == [("acknowledged", room)]

    set_status(db_conn, alert_id, "closed", Actor("api_key", "k1"))
    status_updates.run(ctx)
    assert [n[:2] for n in notices(db_conn, alert_id)] == sorted(
        [("acknowledged", room), ("closed", opted_in), ("closed", room)]
    )
