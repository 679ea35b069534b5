"""What an escalation policy would do to an alert raised now: at which minute each step fires
(with its repeats), whom each target reaches then, through which contact method at which
minute, and where nobody is reachable. The policy page shows it.

It tells the engine's truth by using the engine's own rules rather than restating them:

- steps fire as app.escalation.steps.fire advances an alert (its delays, its repeat and its end);
- a schedule or rotation reaches whoever it has on call at the minute the step fires
  (app.oncall.resolve, the computation the engine uses, loaded once for every minute);
- an engaged person's notification rules fire `delay` minutes after each engagement, on a
  usable method only (app.escalation.notification_pass's rows and reasons,
  app.contacts.notification_plan's failure); engaging them again (a later step, a repeat)
  restarts their rules, so a rule still to come at that moment is superseded, not sent.

The cost is a fixed number of queries whatever the policy (its targets' schedules and rotations,
the people's names and rules); the computation is bounded by the policy's limits (20 steps,
20 targets, 20 repeats). An acknowledgement, which stops everything, is not foreseen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from app.contacts.notification_plan import UserRule, failure_reason
from app.directory import users
from app.escalation import notification_pass, policy_snapshot, steps
from app.oncall import resolve

MAX_WARNINGS = 50  # warnings the preview lists (a 20 x 21 policy could repeat one 420 times)


@dataclass(frozen=True)
class Contact:
    """One notification: minute after raising, the method's type, name and address."""

    minute: int
    method_type: str
    method_name: str
    address: str


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str
    contacts: tuple[Contact, ...]
    problem: str | None  # why nothing reaches them (app.contacts.notification_plan's words)


@dataclass(frozen=True)
class Reach:
    """One target of a firing step and whom it reaches then (channels: nobody, a post)."""

    type: str
    id: str
    name: str
    people: tuple[Person, ...]


@dataclass(frozen=True)
class Firing:
    minute: int
    at: datetime
    step_index: int
    repeat: int  # 0: the first pass
    targets: tuple[Reach, ...]

    @property
    def reachable(self) -> bool:
        """Whether anyone hears of the alert from this step: a channel, or a person with a
        notification still to come."""
        return any(t.type == "channel" or any(p.contacts for p in t.people) for t in self.targets)


@dataclass(frozen=True)
class Preview:
    now: datetime
    firings: tuple[Firing, ...]
    warnings: tuple[str, ...]
    more_warnings: int = 0  # warnings left out past MAX_WARNINGS


# ---- when steps fire: the engine's own advance ------------------------------------------------


def firing_plan(policy: policy_snapshot.Policy) -> list[tuple[int, int, int]]:
    """(minute after raising, step index, repeat) of every step firing for an alert nobody
    acknowledges, as app.escalation.steps.fire advances it."""
    if not policy.steps:
        return []
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    due = steps.Due(0, "triggered", 0, 0, False, False, policy.id, None)
    at, plan = epoch, []
    # Each step fires at most once per round: the engine's advance ends within this many.
    for _ in range(len(policy.steps) * (policy.repeat_count + 1)):
        decision = steps.fire(due, policy, at, 60.0)  # in real minutes: exact to count
        plan.append((int((at - epoch).total_seconds()) // 60, decision.fired_index,
                     decision.repeat))  # fmt: skip
        if decision.next_step_at is None:
            return plan
        at = decision.next_step_at
        due = steps.Due(0, "triggered", decision.step_index, decision.repeats_done, False, False,
                        policy.id, None)  # fmt: skip
    return plan


def _snapshot(policy: Mapping[str, Any]) -> policy_snapshot.Policy:
    return policy_snapshot.Policy(
        policy["id"],
        int(policy["repeat_count"]),
        tuple(
            policy_snapshot.Step(
                int(s["delay_minutes"]),
                tuple(policy_snapshot.Target(t["type"], t["id"]) for t in s["targets"]),
            )
            for s in policy["steps"]
        ),
    )


# ---- whom each firing reaches, and how ----------------------------------------------------------


@dataclass
class _People:
    """Names and notification rules of everyone the preview engages (two queries)."""

    names: dict[str, str]
    rules: dict[str, list[tuple[UserRule, dict[str, Any]]]] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: psycopg.Connection[Any], user_ids: set[str]) -> _People:
        people = cls(users.user_names(conn, user_ids), defaultdict(list))
        for row in notification_pass.rule_rows(conn, user_ids):
            people.rules[row["user_id"]].append((notification_pass.user_rule(row), row))
        return people


def _contacts(
    rules: Sequence[tuple[UserRule, dict[str, Any]]], start: int, end: int | None
) -> tuple[Contact, ...]:
    """The notifications of an engagement at minute `start`, until the next one at `end`."""
    return tuple(
        Contact(start + rule.delay_minutes, row["method_type"], row["method_name"], row["address"])
        for rule, row in rules
        if rule.usable and (end is None or start + rule.delay_minutes < end)
    )


def compute(
    conn: psycopg.Connection[Any], policy: Mapping[str, Any], now: datetime, minute: float = 60.0
) -> Preview:
    """The preview of `policy` (as app.escalation.policies.get_policy returns it) for an alert
    raised at `now`; `minute` is the engine's policy minute in seconds."""
    plan = firing_plan(_snapshot(policy))
    targets = {(t["type"], t["id"]) for s in policy["steps"] for t in s["targets"]}
    loaded = resolve.load_targets(conn, targets)
    at_of = {m: now + timedelta(seconds=m * minute) for m, _, _ in plan}
    on_call = {  # each step's targets at the minutes it fires, not every target at every one
        m: loaded.on_call(at_of[m], ((t["type"], t["id"]) for t in policy["steps"][i]["targets"]))
        for m, i, _ in plan
    }
    engaged: dict[str, list[int]] = defaultdict(list)  # user -> minutes engaged, in order
    for m, index, _ in plan:
        for t in policy["steps"][index]["targets"]:
            for user_id in on_call[m][(t["type"], t["id"])]:
                if not engaged[user_id] or engaged[user_id][-1] != m:
                    engaged[user_id].append(m)
    people = _People.load(conn, set(engaged))
    firings = tuple(
        Firing(
            m,
            at_of[m],
            index,
            repeat,
            tuple(
                _reach(t, on_call[m], m, engaged, people) for t in policy["steps"][index]["targets"]
            ),
        )
        for m, index, repeat in plan
    )
    return _with_warnings(now, policy, firings, people)


def _reach(
    target: Mapping[str, Any],
    on_call: Mapping[tuple[str, str], list[str]],
    minute: int,
    engaged: Mapping[str, list[int]],
    people: _People,
) -> Reach:
    found = []
    for user_id in on_call[(target["type"], target["id"])]:
        times = engaged[user_id]
        later = [m for m in times if m > minute]  # the next engagement supersedes this one's rules
        rules = people.rules.get(user_id, [])
        found.append(
            Person(
                user_id,
                people.names.get(user_id, "(deleted user)"),
                _contacts(rules, minute, later[0] if later else None),
                failure_reason(rule for rule, _ in rules),
            )
        )
    return Reach(target["type"], target["id"], str(target.get("name") or ""), tuple(found))


# ---- warnings ------------------------------------------------------------------------------------


def _with_warnings(
    now: datetime, policy: Mapping[str, Any], firings: tuple[Firing, ...], people: _People
) -> Preview:
    warnings: list[str] = []
    if not policy["steps"]:
        warnings.append("This policy has no steps: an alert on a service using it pages nobody.")
    problems: dict[str, str] = {}
    for i, firing in enumerate(firings):
        step = f"step {firing.step_index + 1}"
        for target in firing.targets:
            if target.type in ("schedule", "rotation") and not target.people:
                warnings.append(
                    f"Minute {firing.minute} ({step}): nobody is on call in "
                    f"{target.type} {target.name}."
                )
            for person in target.people:
                if person.problem and person.user_id not in problems:
                    problems[person.user_id] = (
                        f"{person.name} cannot be notified: {person.problem}."
                    )
        if not firing.reachable:
            until = (
                f"until minute {firings[i + 1].minute}" if i + 1 < len(firings) else "from then on"
            )
            warnings.append(
                f"Minute {firing.minute} ({step}): nobody is reachable {until}: "
                "no channel, and nobody on call with a usable contact method."
            )
    warnings.extend(problems.values())
    shown = list(dict.fromkeys(warnings))
    return Preview(now, firings, tuple(shown[:MAX_WARNINGS]), max(0, len(shown) - MAX_WARNINGS))
