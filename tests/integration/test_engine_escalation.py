"""The escalation module against real Postgres: steps, repeats, ack/close, forcing, maintenance,
missing policies, schedules and rotations as targets, policy edits, and two engines at once.

Time is moved in SQL (a step is made due by setting `next_step_at = now()`), so a policy minute
stays a real 60 s and nothing can fire by accident while a test looks; one test uses a short
minute to show the real timing.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from app.alerts.store import Actor, request_escalation, set_status
from app.escalation import escalation_pass as escalation
from app.escalation import notification_pass as notification_rules
from app.escalation import policies
from tests.support import engine_world as w
from tests.support.engine_world import _make_ctx  # noqa: F401 - the make_ctx fixture
from tests.support.wait import wait_until


@pytest.fixture
def ctx(make_ctx):
    return make_ctx()


@pytest.fixture
def service(make_service):
    return make_service()["id"]


def fired(conn, alert_id):
    """(step, repeat) of every step fired on the alert, in order."""
    return [
        (e["meta"]["step"], e["meta"]["repeat"])
        for e in w.log_events(conn, alert_id)
        if e["event"] in ("escalated", "no_one_on_call")
    ]


def test_step_zero_engages_users_and_channels_at_once(db_conn, ctx, service):
    alice, _ = w.reachable_user(db_conn, "alice")
    bob, _ = w.reachable_user(db_conn, "bob")
    room = w.channel(db_conn)
    w.use_policy(
        db_conn,
        service,
        w.policy(db_conn, [(5, [("user", alice), ("channel", room)]), (5, [("user", bob)])]),
    )
    alert_id = w.alert(db_conn, service)

    due_in = escalation.run(ctx)

    assert set(w.engagements(db_conn, alert_id)) == {alice}
    assert w.engagements(db_conn, alert_id)[alice]["seq"] == 1
    [message] = w.messages(db_conn, alert_id)
    assert (message["kind"], message["channel_id"], message["dest_type"]) == (
        "alert",
        room,
        "slack",
    )
    assert message["provider"] == "slack"
    assert message["max_attempts"] == ctx.settings.delivery.max_attempts
    assert message["dedup_key"].startswith(f"alert:{alert_id}:channel:{room}:")
    [logged] = w.log_events(db_conn, alert_id, "escalated")
    assert logged["actor_type"] == "engine"
    assert logged["meta"] == {
        "step": 0,
        "repeat": 0,
        "users": [alice],
        "channels": [room],
        "forced": False,
    }
    state = w.escalation(db_conn, alert_id)
    assert (state["step_index"], state["repeats_done"]) == (1, 0)
    assert timedelta(minutes=4, seconds=55) < state["due_in"] <= timedelta(minutes=5)
    assert due_in is not None and 290 < due_in <= 300


def test_steps_and_repeats_follow_the_policy_then_stop(db_conn, ctx, service):
    alice, _ = w.reachable_user(db_conn)
    bob, _ = w.reachable_user(db_conn)
    w.use_policy(
        db_conn,
        service,
        w.policy(db_conn, [(2, [("user", alice)]), (7, [("user", bob)])], repeat=1),
    )
    alert_id = w.alert(db_conn, service)
    delays = []
    for _ in range(4):
        escalation.run(ctx)
        state = w.escalation(db_conn, alert_id)
        delays.append(state["due_in"] and round(state["due_in"].total_seconds() / 60))
        w.make_due(db_conn, alert_id) if state["next_step_at"] else None

    assert fired(db_conn, alert_id) == [(0, 0), (1, 0), (0, 1), (1, 1)]
    assert delays == [2, 7, 2, None]  # each step's own delay; exhausted after the repeat
    engaged = w.engagements(db_conn, alert_id)
    assert (engaged[alice]["seq"], engaged[bob]["seq"]) == (2, 2)
    state = w.escalation(db_conn, alert_id)
    assert (state["repeats_done"], state["next_step_at"]) == (1, None)
    escalation.run(ctx)  # nothing is due any more
    assert len(fired(db_conn, alert_id)) == 4


def test_a_short_minute_fires_the_next_step_on_time(db_conn, make_ctx, service):
    ctx = make_ctx(KLAXON_MINUTE_SECONDS="0.3")
    alice, _ = w.reachable_user(db_conn)
    bob, _ = w.reachable_user(db_conn)
    w.use_policy(
        db_conn, service, w.policy(db_conn, [(1, [("user", alice)]), (1, [("user", bob)])])
    )
    alert_id = w.alert(db_conn, service)
    due_in = escalation.run(ctx)
    assert due_in is not None and 0.0 < due_in <= 0.3
    assert set(w.engagements(db_conn, alert_id)) == {alice}

    wait_until(
        lambda: (escalation.run(ctx), bob in w.engagements(db_conn, alert_id))[1],
        5,
        "step 1 fires a policy minute after step 0",
    )
    assert fired(db_conn, alert_id) == [(0, 0), (1, 0)]


@pytest.mark.parametrize("status", ["acknowledged", "closed"])
def test_acknowledge_or_close_stops_further_steps_and_rules(db_conn, ctx, service, status):
    alice = w.user(db_conn)
    now_method = w.method(db_conn, alice)
    later_method = w.method(db_conn, alice, type="sms")
    w.rule(db_conn, alice, now_method, 0)
    w.rule(db_conn, alice, later_method, 3)
    bob, _ = w.reachable_user(db_conn)
    w.use_policy(
        db_conn, service, w.policy(db_conn, [(5, [("user", alice)]), (5, [("user", bob)])])
    )
    alert_id = w.alert(db_conn, service)
    escalation.run(ctx)
    notification_rules.run(ctx)
    assert len(w.messages(db_conn, alert_id)) == 1

    assert set_status(db_conn, alert_id, status, Actor("user"))
    state = w.escalation(db_conn, alert_id)
    assert state["next_step_at"] is None
    assert w.engagements(db_conn, alert_id)[alice]["active"] is False
    # Even when the later rule's and the next step's times have long passed:
    db_conn.execute(
        "UPDATE alert_engagements SET engaged_at = now() - interval '1 hour', "
        "next_rule_at = now() - interval '1 hour' WHERE alert_id = %s",
        (alert_id,),
    )
    escalation.run(ctx)
    notification_rules.run(ctx)
    assert len(w.messages(db_conn, alert_id)) == 1
    assert set(w.engagements(db_conn, alert_id)) == {alice}
    assert fired(db_conn, alert_id) == [(0, 0)]


def test_forced_escalation_fires_the_next_step_now(db_conn, ctx, service):
    alice, _ = w.reachable_user(db_conn)
    bob, _ = w.reachable_user(db_conn)
    carol, _ = w.reachable_user(db_conn)
    w.use_policy(
        db_conn,
        service,
        w.policy(
            db_conn, [(30, [("user", alice)]), (30, [("user", bob)]), (30, [("user", carol)])]
        ),
    )
    alert_id = w.alert(db_conn, service)
    escalation.run(ctx)
    assert request_escalation(db_conn, alert_id, Actor("user"))

    escalation.run(ctx)
    assert set(w.engagements(db_conn, alert_id)) == {alice, bob}
    assert w.log_events(db_conn, alert_id, "escalated")[-1]["meta"]["forced"] is True
    state = w.escalation(db_conn, alert_id)
    assert (state["step_index"], state["forced"]) == (2, False)
    assert state["due_in"] > timedelta(minutes=29)  # timed escalation goes on from here


def test_forced_escalation_of_an_acknowledged_alert_fires_once(db_conn, ctx, service):
    alice, _ = w.reachable_user(db_conn)
    bob, bob_method = w.reachable_user(db_conn)
    carol, _ = w.reachable_user(db_conn)
    w.use_policy(
        db_conn,
        service,
        w.policy(
            db_conn, [(30, [("user", alice)]), (30, [("user", bob)]), (30, [("user", carol)])]
        ),
    )
    alert_id = w.alert(db_conn, service)
    escalation.run(ctx)
    set_status(db_conn, alert_id, "acknowledged", Actor("user"))
    assert request_escalation(db_conn, alert_id, Actor("user"))

    escalation.run(ctx)
    notification_rules.run(ctx)
    assert w.engagements(db_conn, alert_id)[bob]["active"] is True
    assert [m["contact_method_id"] for m in w.messages(db_conn, alert_id)][-1] == bob_method
    state = w.escalation(db_conn, alert_id)
    assert (state["next_step_at"], state["forced"], state["step_index"]) == (None, False, 2)
    escalation.run(ctx)
    assert carol not in w.engagements(db_conn, alert_id)


def test_maintenance_holds_escalation_then_it_resumes(db_conn, ctx, service):
    alice, _ = w.reachable_user(db_conn)
    w.use_policy(db_conn, service, w.policy(db_conn, [(5, [("user", alice)])]))
    db_conn.execute(
        "UPDATE services SET maintenance_until = now() + interval '1 hour' WHERE id = %s",
        (service,),
    )
    alert_id = w.alert(db_conn, service)

    escalation.run(ctx)
    state = w.escalation(db_conn, alert_id)
    assert state["held"] is True
    assert timedelta(minutes=59) < state["due_in"] <= timedelta(hours=1)
    w.make_due(db_conn, alert_id)  # still in maintenance: held again, logged only once
    escalation.run(ctx)
    assert len(w.log_events(db_conn, alert_id, "escalation_held")) == 1
    assert w.engagements(db_conn, alert_id) == {}

    db_conn.execute(
        "UPDATE services SET maintenance_until = now() - interval '1 second' WHERE id = %s",
        (service,),
    )
    w.make_due(db_conn, alert_id)  # maintenance_until has come
    escalation.run(ctx)
    assert set(w.engagements(db_conn, alert_id)) == {alice}
    assert w.escalation(db_conn, alert_id)["held"] is False


def test_no_policy_is_logged_once_and_escalates_once_a_policy_is_set(db_conn, ctx, service):
    alice, _ = w.reachable_user(db_conn)
    alert_id = w.alert(db_conn, service)
    escalation.run(ctx)
    state = w.escalation(db_conn, alert_id)
    assert timedelta(seconds=55) < state["due_in"] <= timedelta(minutes=1)  # looked at again
    w.make_due(db_conn, alert_id)
    escalation.run(ctx)
    [logged] = w.log_events(db_conn, alert_id, "no_escalation_policy")
    assert logged["actor_type"] == "engine" and "no escalation policy" in logged["message"]

    # What the API does when a service gets a policy: its waiting alerts become due now.
    w.use_policy(db_conn, service, w.policy(db_conn, [(5, [("user", alice)])]))
    assert policies.restart_waiting_alerts(db_conn, service) == 1
    escalation.run(ctx)
    assert set(w.engagements(db_conn, alert_id)) == {alice}


def test_a_policy_without_steps_counts_as_none(db_conn, ctx, service):
    w.use_policy(db_conn, service, w.policy(db_conn, []))
    alert_id = w.alert(db_conn, service)
    escalation.run(ctx)
    assert len(w.log_events(db_conn, alert_id, "no_escalation_policy")) == 1


def _rotation(conn, users, started_ago=timedelta(minutes=30)):
    """An hourly rotation whose first participant's shift began `started_ago`."""
    row = conn.execute(
        "INSERT INTO rotations (name, type, shift_length, start_at, time_zone) "
        "VALUES ('r', 'hourly', 1, now() - %s, 'UTC') RETURNING id::text AS id",
        (started_ago,),
    ).fetchone()
    for position, user_id in enumerate(users):
        conn.execute(
            "INSERT INTO rotation_participants (rotation_id, position, user_id) "
            "VALUES (%s, %s, %s)",
            (row["id"], position, user_id),
        )
    return row["id"]


def _schedule(conn, name="primary"):
    row = conn.execute(
        "INSERT INTO schedules (name, time_zone) VALUES (%s, 'America/New_York') "
        "RETURNING id::text AS id",
        (name,),
    ).fetchone()
    return row["id"]


def _all_day_rule(conn, schedule_id, target_type, target_id):
    column = "user_id" if target_type == "user" else "rotation_id"
    conn.execute(
        f"INSERT INTO schedule_rules (schedule_id, target_type, {column}) VALUES (%s, %s, %s)",
        (schedule_id, target_type, target_id),
    )


def test_a_schedule_step_pages_exactly_who_is_on_call_now(db_conn, ctx, service):
    on_rotation, off_rotation = w.user(db_conn), w.user(db_conn)
    regular, stand_in, bystander = w.user(db_conn), w.user(db_conn), w.user(db_conn)
    schedule_id = _schedule(db_conn)
    _all_day_rule(db_conn, schedule_id, "rotation", _rotation(db_conn, [on_rotation, off_rotation]))
    _all_day_rule(db_conn, schedule_id, "user", regular)
    db_conn.execute(  # the regular is replaced right now; the bystander is added only later
        "INSERT INTO schedule_overrides (schedule_id, kind, add_user_id, remove_user_id, "
        "start_at, end_at) VALUES (%s, 'replace', %s, %s, now() - interval '1 hour', "
        "now() + interval '1 hour'), (%s, 'add', %s, NULL, now() + interval '2 hours', "
        "now() + interval '3 hours')",
        (schedule_id, stand_in, regular, schedule_id, bystander),
    )
    w.use_policy(db_conn, service, w.policy(db_conn, [(5, [("schedule", schedule_id)])]))
    alert_id = w.alert(db_conn, service)

    escalation.run(ctx)

    assert set(w.engagements(db_conn, alert_id)) == {on_rotation, stand_in}
    meta = w.log_events(db_conn, alert_id, "escalated")[0]["meta"]
    assert meta["users"] == sorted([on_rotation, stand_in])


def test_a_rotation_step_pages_its_current_participant(db_conn, ctx, service):
    first, second = w.user(db_conn), w.user(db_conn)
    rotation_id = _rotation(db_conn, [first, second], started_ago=timedelta(minutes=90))
    w.use_policy(db_conn, service, w.policy(db_conn, [(5, [("rotation", rotation_id)])]))
    alert_id = w.alert(db_conn, service)
    escalation.run(ctx)
    assert set(w.engagements(db_conn, alert_id)) == {second}


def test_a_step_that_reaches_no_one_is_logged(db_conn, ctx, service):
    empty = _schedule(db_conn, "nobody")
    w.use_policy(db_conn, service, w.policy(db_conn, [(5, [("schedule", empty)])]))
    alert_id = w.alert(db_conn, service)
    escalation.run(ctx)
    [logged] = w.log_events(db_conn, alert_id, "no_one_on_call")
    assert logged["meta"]["users"] == [] and logged["meta"]["step"] == 0
    assert w.log_events(db_conn, alert_id, "escalated") == []
    assert w.escalation(db_conn, alert_id)["next_step_at"] is None  # one step, no repeats


def test_a_policy_edited_mid_alert_applies_as_it_stands(db_conn, ctx, service):
    alice, bob, dave = w.user(db_conn), w.user(db_conn), w.user(db_conn)
    carol = w.user(db_conn)
    policy_id = w.policy(
        db_conn, [(5, [("user", alice)]), (5, [("user", bob)]), (5, [("user", carol)])]
    )
    w.use_policy(db_conn, service, policy_id)
    alert_id = w.alert(db_conn, service)
    escalation.run(ctx)

    db_conn.execute(  # step 1 now targets dave instead of bob
        "UPDATE escalation_step_targets t SET user_id = %s FROM escalation_steps s "
        "WHERE t.step_id = s.id AND s.policy_id = %s AND s.position = 1",
        (dave, policy_id),
    )
    w.make_due(db_conn, alert_id)
    escalation.run(ctx)
    assert set(w.engagements(db_conn, alert_id)) == {alice, dave}

    # The policy shrinks to one step while the alert waits for step 2: its last step fires.
    db_conn.execute(
        "DELETE FROM escalation_steps WHERE policy_id = %s AND position > 0", (policy_id,)
    )
    w.make_due(db_conn, alert_id)
    escalation.run(ctx)
    assert fired(db_conn, alert_id) == [(0, 0), (1, 0), (0, 0)]
    assert w.engagements(db_conn, alert_id)[alice]["seq"] == 2
    assert carol not in w.engagements(db_conn, alert_id)
    assert w.escalation(db_conn, alert_id)["next_step_at"] is None


def test_two_engines_on_the_same_rows_never_duplicate(db_conn, make_ctx, service):
    alice, _ = w.reachable_user(db_conn)
    room = w.channel(db_conn)
    w.use_policy(db_conn, service, w.policy(db_conn, [(5, [("user", alice), ("channel", room)])]))
    alert_ids = [w.alert(db_conn, service, f"storm {i}") for i in range(200)]
    engines = [make_ctx(), make_ctx()]

    for module in (escalation, notification_rules):
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def work(ctx, module=module, start=start, errors=errors):
            try:
                start.wait(5)
                for _ in range(3):
                    with ctx.database.transaction() as conn:
                        module.one_batch(conn, ctx.settings, batch=20)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(ctx,)) for ctx in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors
        for ctx in engines:  # whatever the batches left
            module.run(ctx)

    counts = db_conn.execute(
        "SELECT count(*) FILTER (WHERE channel_id IS NOT NULL) AS channel, "
        "count(*) FILTER (WHERE contact_method_id IS NOT NULL) AS personal, "
        "count(DISTINCT dedup_key) AS distinct_keys FROM outgoing_messages"
    ).fetchone()
    assert counts == {"channel": 200, "personal": 200, "distinct_keys": 400}
    seqs = db_conn.execute("SELECT DISTINCT seq FROM alert_engagements").fetchall()
    assert seqs == [{"seq": 1}]
    logged = db_conn.execute(
        "SELECT count(*) AS n FROM alert_logs WHERE event = 'escalated'"
    ).fetchone()
    assert logged == {"n": len(alert_ids)}
