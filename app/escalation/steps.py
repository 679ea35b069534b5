"""Which escalation step fires for a due alert, and where the alert goes next. Pure: no I/O.

Choices where the issue is silent (the README's escalation section repeats them):

- The policy is read as it stands when a step fires. If it shrank below the alert's next step,
  the alert fires the policy's *last* step (clamped) rather than skipping to "exhausted": a
  shrinking edit must never silence an open alert. A policy that lost every step (or a service
  without one) is logged once per alert and retried every minute, so setting one resumes it.
- Step k's delay is the wait *after* step k fires before the next one (GoAlert's meaning).
  After the last step, a repeat starts over at step 0 after the last step's delay.
- When every repeat is done the alert is exhausted (nothing more is scheduled); its step index
  stays one past the last step, so a forced escalation re-fires the last step.
- A forced escalation (API) fires the next step at once, even on an acknowledged alert (then
  nothing more is scheduled) and even during maintenance (an explicit request from a person
  beats the window). It never fires on a closed alert.
- Maintenance holds an alert until `maintenance_until`, then the step it was waiting for fires.
  A changed window makes held alerts due at once
  (app.escalation.policies.release_held_alerts), and this decision holds them again if the new
  window is still open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.escalation.policy_snapshot import Policy, Step

STOP = "stop"  # nothing more to fire (closed, acknowledged)
HOLD = "hold"  # the service is in maintenance: wait for it to end
NO_POLICY = "no_policy"  # nothing to fire yet: log it once, look again in a minute
FIRE = "fire"


@dataclass(frozen=True)
class Due:
    """One due alert_escalations row, with what the decision needs from its alert and service."""

    alert_id: int
    status: str  # the alert's: triggered | acknowledged | closed
    step_index: int
    repeats_done: int
    forced: bool
    held: bool
    policy_id: str | None
    maintenance_until: datetime | None


@dataclass(frozen=True)
class Decision:
    action: str  # STOP | HOLD | NO_POLICY | FIRE
    next_step_at: datetime | None
    step_index: int  # the row's new values
    repeats_done: int
    step: Step | None = None  # FIRE: the step that fires now
    fired_index: int = 0  # FIRE: its index in the policy
    repeat: int = 0  # FIRE: which pass over the steps (0 = the first)


def decide(due: Due, policy: Policy | None, now: datetime, minute: float) -> Decision:
    """What to do with one due escalation at `now`; `minute` is a policy minute in seconds."""
    keep = (due.step_index, due.repeats_done)
    if due.status == "closed" or (due.status == "acknowledged" and not due.forced):
        return Decision(STOP, None, *keep)
    in_maintenance = due.maintenance_until is not None and due.maintenance_until > now
    if in_maintenance and not due.forced:
        return Decision(HOLD, due.maintenance_until, *keep)
    if policy is None or not policy.steps:
        retry = None if due.status == "acknowledged" else now + timedelta(seconds=minute)
        return Decision(NO_POLICY, retry, *keep)
    return fire(due, policy, now, minute)


def fire(due: Due, policy: Policy, now: datetime, minute: float) -> Decision:
    """Fire the alert's next step (clamped to the policy as it stands) and advance past it."""
    index = min(due.step_index, len(policy.steps) - 1)
    step = policy.steps[index]
    step_index, repeats_done = index + 1, due.repeats_done
    exhausted = False
    if step_index >= len(policy.steps):
        if repeats_done < policy.repeat_count:
            step_index, repeats_done = 0, repeats_done + 1
        else:
            exhausted = True
    # A forced step on an acknowledged alert is a one-off: acknowledged alerts do not escalate.
    stops = exhausted or due.status == "acknowledged"
    next_at = None if stops else now + timedelta(seconds=step.delay_minutes * minute)
    return Decision(
        FIRE,
        next_at,
        step_index,
        repeats_done,
        step=step,
        fired_index=index,
        repeat=due.repeats_done,
    )
