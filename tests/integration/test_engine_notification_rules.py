"""The notification-rules module: each engaged user's rules fire as their delays elapse, once
per engagement, only on usable contact methods; unreachable users are logged on the alert. A rule
added through the API while a user is engaged fires at its moment, or is skipped if that moment
has passed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.escalation import escalation_pass as escalation
from app.escalation import notification_pass as notification_rules
from tests.support import engine_world as w
from tests.support.api import Api
from tests.support.engine_world import _make_ctx  # noqa: F401 - the make_ctx fixture
from tests.support.wait import wait_until


@pytest.fixture
def ctx(make_ctx):
    return make_ctx()


@pytest.fixture
def service(make_service):
    return make_service()["id"]


def engage(conn, ctx, service, users, repeat=0):
    """An alert whose step 0 has engaged `users`."""
    w.use_policy(conn, service, w.policy(conn, [(5, [("user", u) for u in users])], repeat))
    alert_id = w.alert(conn, service)
    escalation.run(ctx)
    return alert_id


def travel(conn, alert_id, minutes):
    """Time travel: the engagement began `minutes` earlier, and is due for a look now."""
    conn.execute(
        "UPDATE alert_engagements SET engaged_at = engaged_at - make_interval(mins => %s), "
        "next_rule_at = now() WHERE alert_id = %s",
        (minutes, alert_id),
    )


def test_rules_fire_as_their_delays_elapse(db_conn, ctx, service):
    alice = w.user(db_conn)
    email = w.method(db_conn, alice)
    sms = w.method(db_conn, alice, type="sms")
    email_rule = w.rule(db_conn, alice, email, 0)
    sms_rule = w.rule(db_conn, alice, sms, 2)
    alert_id = engage(db_conn, ctx, service, [alice])

    due_in = notification_rules.run(ctx)
    [first] = w.messages(db_conn, alert_id)
    assert (first["kind"], first["contact_method_id"], first["user_id"]) == ("alert", email, alice)
    assert (first["dest_type"], first["provider"], first["rule_id"]) == (
        "email",
        "smtp",
        email_rule,
    )
    assert first["dedup_key"] == f"alert:{alert_id}:{email_rule}:1"
    assert first["max_attempts"] == ctx.settings.delivery.max_attempts
    engagement = w.engagements(db_conn, alert_id)[alice]
    assert engagement["next_rule_at"] - engagement["engaged_at"] == timedelta(minutes=2)
    assert due_in is not None and 110 < due_in <= 120

    notification_rules.run(ctx)  # nothing new is due yet
    assert len(w.messages(db_conn, alert_id)) == 1
    travel(db_conn, alert_id, 2)
    notification_rules.run(ctx)
    second = w.messages(db_conn, alert_id)[1]
    assert (second["dest_type"], second["provider"], second["rule_id"]) == (
        "sms",
        "twilio",
        sms_rule,
    )
    assert w.engagements(db_conn, alert_id)[alice]["next_rule_at"] is None
    travel(db_conn, alert_id, 60)
    notification_rules.run(ctx)
    assert len(w.messages(db_conn, alert_id)) == 2  # each rule once per engagement


def test_a_short_minute_sends_a_delayed_rule_on_time(db_conn, make_ctx, service):
    ctx = make_ctx(KLAXON_MINUTE_SECONDS="0.2")
    alice = w.user(db_conn)
    w.rule(db_conn, alice, w.method(db_conn, alice), 0)
    w.rule(db_conn, alice, w.method(db_conn, alice, type="sms"), 1)
    alert_id = engage(db_conn, ctx, service, [alice])
    notification_rules.run(ctx)
    assert len(w.messages(db_conn, alert_id)) == 1
    wait_until(
        lambda: (notification_rules.run(ctx), len(w.messages(db_conn, alert_id)) == 2)[1],
        5,
        "the one-minute rule a minute later",
    )


def test_a_new_engagement_fires_the_rules_again(db_conn, ctx, service):
    alice, _ = w.reachable_user(db_conn)
    alert_id = engage(db_conn, ctx, service, [alice], repeat=1)
    notification_rules.run(ctx)
    w.make_due(db_conn, alert_id)
    escalation.run(ctx)  # the repeat engages alice again: seq 2
    notification_rules.run(ctx)
    keys = [m["dedup_key"] for m in w.messages(db_conn, alert_id)]
    assert [k.rsplit(":", 1)[1] for k in keys] == ["1", "2"]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"verified": False}, "not verified"),
        ({"disabled": True}, "disabled"),
        ({"stopped": True}, "stopped (SMS STOP)"),
    ],
)
def test_unusable_methods_send_nothing_and_are_logged_once(db_conn, ctx, service, options, reason):
    alice = w.user(db_conn, "alice")
    method_options = {k: v for k, v in options.items() if k != "stopped"}
    method_id = w.method(db_conn, alice, type="sms", **method_options)
    if options.get("stopped"):
        db_conn.execute("UPDATE contact_methods SET stopped_at = now() WHERE id = %s", (method_id,))
    w.rule(db_conn, alice, method_id, 0)
    alert_id = engage(db_conn, ctx, service, [alice])
    notification_rules.run(ctx)
    travel(db_conn, alert_id, 0)
    notification_rules.run(ctx)

    assert w.messages(db_conn, alert_id) == []
    [logged] = w.log_events(db_conn, alert_id, "notification_failed")
    assert logged["message"] == f"no usable contact method: {reason}"
    assert logged["meta"] == {"user_id": alice, "seq": 1}
    assert logged["actor_type"] == "engine"


def test_a_user_without_rules_is_logged_and_others_still_paged(db_conn, ctx, service):
    lonely = w.user(db_conn)
    bob, bob_method = w.reachable_user(db_conn)
    alert_id = engage(db_conn, ctx, service, [lonely, bob])
    notification_rules.run(ctx)
    [logged] = w.log_events(db_conn, alert_id, "notification_failed")
    assert logged["message"] == "user has no notification rules"
    assert logged["meta"]["user_id"] == lonely
    assert [m["contact_method_id"] for m in w.messages(db_conn, alert_id)] == [bob_method]


# ---- rules added while a user is engaged (GoAlert's behaviour) --------------------------------

MINUTE = 0.5  # seconds in a policy minute for the tests below: a 3-minute rule waits 1.5 s


@pytest.fixture
def api(client, make_api_key):
    return Api(client, make_api_key("write"))


def add_rule(api, user_id, method_id, delay):
    """POST a notification rule through the API, as a person would while being paged."""
    body = {"contact_method_id": method_id, "delay_minutes": delay}
    response = api.post(f"/users/{user_id}/notification-rules", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def sent_rules(conn, alert_id):
    return [m["rule_id"] for m in w.messages(conn, alert_id)]


def test_a_rule_added_while_engaged_fires_at_its_moment(db_conn, make_ctx, service, api):
    ctx = make_ctx(KLAXON_MINUTE_SECONDS=str(MINUTE))
    alice = w.user(db_conn)
    first = w.rule(db_conn, alice, w.method(db_conn, alice), 0)
    alert_id = engage(db_conn, ctx, service, [alice])
    notification_rules.run(ctx)
    assert sent_rules(db_conn, alert_id) == [first]
    assert w.engagements(db_conn, alert_id)[alice]["next_rule_at"] is None  # nothing pending

    added = add_rule(api, alice, w.method(db_conn, alice, type="sms"), 3)

    notification_rules.run(ctx)  # looked at again at once; its moment has not come yet
    engagement = w.engagements(db_conn, alert_id)[alice]
    assert engagement["next_rule_at"] - engagement["engaged_at"] == timedelta(seconds=3 * MINUTE)
    assert sent_rules(db_conn, alert_id) == [first]
    wait_until(
        lambda: (notification_rules.run(ctx), len(w.messages(db_conn, alert_id)) == 2)[1],
        10,
        "the added rule at its moment",
    )
    assert sent_rules(db_conn, alert_id) == [first, added]
    sent_at = db_conn.execute(
        "SELECT created_at FROM outgoing_messages WHERE rule_id = %s", (added,)
    ).fetchone()["created_at"]
    assert sent_at >= engagement["engaged_at"] + timedelta(seconds=3 * MINUTE)
    assert w.engagements(db_conn, alert_id)[alice]["next_rule_at"] is None


def test_a_rule_added_after_its_moment_is_skipped_not_sent_late(db_conn, make_ctx, service, api):
    ctx = make_ctx(KLAXON_MINUTE_SECONDS=str(MINUTE))
    alice = w.user(db_conn)
    first = w.rule(db_conn, alice, w.method(db_conn, alice), 0)
    later = w.rule(db_conn, alice, w.method(db_conn, alice, type="sms"), 2)
    alert_id = engage(db_conn, ctx, service, [alice], repeat=1)
    notification_rules.run(ctx)
    assert sent_rules(db_conn, alert_id) == [first]

    late = add_rule(api, alice, w.method(db_conn, alice, type="voice"), 0)  # its moment has passed

    notification_rules.run(ctx)
    assert sent_rules(db_conn, alert_id) == [first]
    wait_until(
        lambda: (notification_rules.run(ctx), len(w.messages(db_conn, alert_id)) >= 2)[1],
        10,
        "the 2-minute rule",
    )
    notification_rules.run(ctx)
    assert sent_rules(db_conn, alert_id) == [first, later]  # not bunched with the late rule
    assert w.engagements(db_conn, alert_id)[alice]["next_rule_at"] is None

    w.make_due(db_conn, alert_id)
    escalation.run(ctx)  # the repeat engages alice again: the added rule fires this time
    notification_rules.run(ctx)
    assert {first, late} <= set(sent_rules(db_conn, alert_id)[2:])
