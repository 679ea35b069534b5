"""Which of an engaged user's notification rules are due, and when the next one is. Pure.

A rule with delay d fires once per engagement at `engaged_at + d minutes`. Each pass fires every
rule already due (the message dedup key `alert:<alert>:<rule>:<seq>` makes a repeat harmless)
and schedules the engagement's next look at the earliest rule still in the future.

A rule made during an engagement (as GoAlert does) fires at its moment if that moment was still
to come when the rule was made, and is skipped for this engagement if the moment had passed:
it is never sent late, bunched with a later rule. The next engagement fires it as usual.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class UserRule:
    id: str
    contact_method_id: str
    delay_minutes: int
    usable: bool  # the method is verified, enabled and not stopped (SMS STOP)
    why_unusable: str = ""  # e.g. "not verified"
    created_at: datetime | None = None  # when the rule was made; None: before any engagement


@dataclass(frozen=True)
class RulePlan:
    due: tuple[UserRule, ...]  # usable rules whose time has come: send them now
    next_rule_at: datetime | None  # the earliest usable rule still to come
    failure: str | None  # why this user cannot be reached at all, if they cannot


def plan(rules: Sequence[UserRule], engaged_at: datetime, now: datetime, minute: float) -> RulePlan:
    """The rules of one engagement to send at `now`, and when to look again."""
    usable = [rule for rule in rules if rule.usable]

    def due_at(rule: UserRule) -> datetime:
        return engaged_at + timedelta(seconds=rule.delay_minutes * minute)

    # A rule made after its moment in this engagement had passed is skipped, not sent late.
    timely = [rule for rule in usable if rule.created_at is None or rule.created_at <= due_at(rule)]
    due = tuple(rule for rule in timely if due_at(rule) <= now)
    later = [due_at(rule) for rule in timely if due_at(rule) > now]
    return RulePlan(due, min(later, default=None), failure_reason(rules))


def failure_reason(rules: Iterable[UserRule]) -> str | None:
    """Why no rule of this user can ever reach them, or None when one can."""
    rules = list(rules)
    if not rules:
        return "user has no notification rules"
    if any(rule.usable for rule in rules):
        return None
    reasons = sorted({rule.why_unusable for rule in rules})
    return "no usable contact method: " + ", ".join(reasons)
