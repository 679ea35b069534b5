"""Pure escalation logic: which step fires, where the alert goes next, which rules are due,
when an on-call set may change next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.contacts.notification_plan import UserRule, plan
from app.escalation.policy_snapshot import Policy, Step, Target, build_policies
from app.escalation.steps import FIRE, HOLD, NO_POLICY, STOP, Due, decide
from app.oncall import notices
from app.oncall.model import Shift

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MINUTE = 60.0


def due(**changes):
    base = dict(
        alert_id=1,
        status="triggered",
        step_index=0,
        repeats_done=0,
        forced=False,
        held=False,
        policy_id="p",
        maintenance_until=None,
    )
    return Due(**{**base, **changes})


def policy(*delays, repeat=0):
    return Policy(
        "p", repeat, tuple(Step(d, (Target("user", f"u{i}"),)) for i, d in enumerate(delays))
    )


@pytest.mark.parametrize(
    ("changes", "action"),
    [
        ({"status": "closed"}, STOP),
        ({"status": "closed", "forced": True}, STOP),
        ({"status": "acknowledged"}, STOP),
        ({"maintenance_until": NOW + timedelta(hours=1)}, HOLD),
        ({"maintenance_until": NOW - timedelta(seconds=1)}, FIRE),
        ({"maintenance_until": NOW + timedelta(hours=1), "forced": True}, FIRE),
        ({"status": "acknowledged", "forced": True}, FIRE),
    ],
)
def test_what_a_due_escalation_does(changes, action):
    assert decide(due(**changes), policy(5, 5), NOW, MINUTE).action == action


def test_a_hold_waits_for_the_end_of_maintenance():
    until = NOW + timedelta(hours=2)
    decision = decide(due(maintenance_until=until), policy(5), NOW, MINUTE)
    assert decision.next_step_at == until


def test_no_policy_or_no_steps_looks_again_in_a_minute():
    for p in (None, policy()):
        decision = decide(due(), p, NOW, MINUTE)
        assert (decision.action, decision.next_step_at) == (NO_POLICY, NOW + timedelta(minutes=1))
    assert decide(due(status="acknowledged", forced=True), None, NOW, MINUTE).next_step_at is None


def test_steps_repeat_then_exhaust_each_waiting_its_own_delay():
    p = policy(2, 7, repeat=1)
    state = due()
    seen = []
    for _ in range(4):
        d = decide(state, p, NOW, MINUTE)
        seen.append((d.fired_index, d.repeat, d.next_step_at and d.next_step_at - NOW))
        state = due(step_index=d.step_index, repeats_done=d.repeats_done)
    minutes = [timedelta(minutes=m) for m in (2, 7, 2)]
    assert seen == [(0, 0, minutes[0]), (1, 0, minutes[1]), (0, 1, minutes[2]), (1, 1, None)]


def test_a_shrunken_policy_fires_its_last_step():
    d = decide(due(step_index=4), policy(3, 9), NOW, MINUTE)
    assert (d.fired_index, d.step.delay_minutes, d.next_step_at) == (1, 9, None)


def test_a_forced_step_on_an_acknowledged_alert_schedules_nothing_more():
    d = decide(due(status="acknowledged", forced=True, step_index=1), policy(5, 5, 5), NOW, MINUTE)
    assert (d.fired_index, d.step_index, d.next_step_at) == (1, 2, None)


def test_the_minute_is_configurable():
    d = decide(due(), policy(3), NOW, 0.5)
    assert d.next_step_at is None  # one step, no repeat
    d = decide(due(), policy(3, 3), NOW, 0.5)
    assert d.next_step_at == NOW + timedelta(seconds=1.5)


def test_policies_fold_from_joined_rows_in_position_order():
    rows = [
        {
            "policy_id": "a",
            "repeat_count": 2,
            "step_id": "s1",
            "delay_minutes": 5,
            "target_type": "user",
            "target_id": "u1",
        },
        {
            "policy_id": "a",
            "repeat_count": 2,
            "step_id": "s1",
            "delay_minutes": 5,
            "target_type": "channel",
            "target_id": "c1",
        },
        {
            "policy_id": "a",
            "repeat_count": 2,
            "step_id": "s0",
            "delay_minutes": 9,
            "target_type": None,
            "target_id": None,
        },
        {
            "policy_id": "b",
            "repeat_count": 0,
            "step_id": None,
            "delay_minutes": None,
            "target_type": None,
            "target_id": None,
        },
    ]
    policies = build_policies(rows)
    assert policies["a"] == Policy(
        "a", 2, (Step(5, (Target("user", "u1"), Target("channel", "c1"))), Step(9, ()))
    )
    assert policies["b"] == Policy("b", 0, ())


def rule(rid, delay, usable=True, why=""):
    return UserRule(rid, f"m-{rid}", delay, usable, why)


def test_rules_due_now_and_the_next_one():
    engaged = NOW - timedelta(minutes=3)
    p = plan(
        [rule("r0", 0), rule("r3", 3), rule("r5", 5), rule("rx", 1, False, "disabled")],
        engaged,
        NOW,
        MINUTE,
    )
    assert [r.id for r in p.due] == ["r0", "r3"]
    assert p.next_rule_at == engaged + timedelta(minutes=5)
    assert p.failure is None


@pytest.mark.parametrize(
    ("rules", "failure"),
    [
        ([], "user has no notification rules"),
        (
            [rule("a", 0, False, "not verified"), rule("b", 0, False, "disabled")],
            "no usable contact method: disabled, not verified",
        ),
    ],
)
def test_unreachable_users_say_why(rules, failure):
    p = plan(rules, NOW, NOW, MINUTE)
    assert (p.due, p.next_rule_at, p.failure) == ((), None, failure)


def test_notice_boundaries_ignore_the_clipped_horizon():
    horizon = NOW + timedelta(days=1)
    shifts = [
        Shift(NOW - timedelta(hours=1), NOW + timedelta(hours=3), "a"),
        Shift(NOW + timedelta(hours=2), horizon, "b"),
    ]
    assert notices.next_boundary(shifts, NOW, horizon) == NOW + timedelta(hours=2)
    assert notices.next_boundary([Shift(NOW, horizon, "a")], NOW, horizon) is None
    cap = timedelta(hours=1)
    assert notices.seconds_to(None, NOW, cap) == 3600
    assert notices.seconds_to(NOW + timedelta(minutes=2), NOW, cap) == 120
    assert notices.announced(None) is None
    assert notices.announced(["b", "a"]) == ["a", "b"]


def test_a_forced_escalation_of_an_exhausted_alert_fires_the_last_step_again():
    d = decide(due(step_index=2, repeats_done=1, forced=True), policy(5, 5, repeat=1), NOW, MINUTE)
    assert (d.action, d.fired_index, d.repeat, d.next_step_at) == (FIRE, 1, 1, None)


def test_a_rule_made_during_an_engagement_fires_only_if_its_moment_was_still_to_come():
    engaged = NOW - timedelta(minutes=3)
    made = NOW - timedelta(minutes=1)  # two minutes into the engagement
    in_time = UserRule("r5", "m-r5", 5, True, created_at=made)
    just_in_time = UserRule("r2", "m-r2", 2, True, created_at=made)
    too_late = UserRule("r1", "m-r1", 1, True, created_at=made)
    p = plan([rule("r0", 0), too_late, just_in_time, in_time], engaged, NOW, MINUTE)
    assert [r.id for r in p.due] == ["r0", "r2"]
    assert p.next_rule_at == engaged + timedelta(minutes=5)
    # The next engagement, after the rule was made, fires it like any other.
    p = plan([too_late], NOW, NOW + timedelta(minutes=1), MINUTE)
    assert [r.id for r in p.due] == ["r1"]


def test_a_user_whose_only_rule_came_too_late_is_not_called_unreachable():
    late = UserRule("r0", "m-r0", 0, True, created_at=NOW)
    p = plan([late], NOW - timedelta(seconds=1), NOW, MINUTE)
    assert (p.due, p.next_rule_at, p.failure) == ((), None, None)
