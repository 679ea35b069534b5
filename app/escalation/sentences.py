"""An escalation policy in words, for the policy page: each step as one sentence ("after 5
minutes, notify Ada Lovelace and whoever is on call in *Primary*, and post to *#ops*") and the
repeat as another. Pure: it reads the steps as app.escalation.policies returns them.

A step's minute is counted from the alert being raised, as the engine fires it
(app.escalation.steps): step k fires after the delays of the steps before it. A sentence is a
list of parts (text, emphasised) so the page can set names apart without building HTML here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Part = tuple[str, bool]  # (text, emphasised: a name)
Sentence = list[Part]


def minutes(count: int) -> str:
    """ "1 minute", "5 minutes"."""
    return f"{count} minute{'' if count == 1 else 's'}"


def _names(names: Sequence[str]) -> Sentence:
    """Names joined as a person says them: A; A and B; A, B and C (each emphasised)."""
    parts: Sentence = []
    for i, name in enumerate(names):
        if i:
            parts.append((" and " if i == len(names) - 1 else ", ", False))
        parts.append((name, True))
    return parts


def _clauses(targets: Sequence[Mapping[str, Any]]) -> list[Sentence]:
    by_type: dict[str, list[str]] = {"user": [], "schedule": [], "rotation": [], "channel": []}
    for target in targets:
        by_type[target["type"]].append(str(target.get("name") or "(deleted)"))
    clauses: list[Sentence] = []
    if by_type["user"]:
        clauses.append(_names(by_type["user"]))
    if by_type["schedule"]:
        clauses.append([("whoever is on call in ", False), *_names(by_type["schedule"])])
    if by_type["rotation"]:
        word = "rotation " if len(by_type["rotation"]) == 1 else "rotations "
        clauses.append([("whoever is on call in ", False), (word, False)])
        clauses[-1].extend(_names(by_type["rotation"]))
    return clauses + ([_names(by_type["channel"])] if by_type["channel"] else [])


def step_sentence(step: Mapping[str, Any], at_minute: int) -> Sentence:
    """One step, firing `at_minute` minutes after the alert was raised."""
    start = "Immediately" if at_minute == 0 else f"After {minutes(at_minute)}"
    targets = step["targets"]
    people = [t for t in targets if t["type"] != "channel"]
    clauses = _clauses(targets)
    parts: Sentence = [(start + ", ", False)]
    if not targets:
        return [*parts, ("notify nobody (this step has no targets)", False)]
    if people:
        parts.append(("notify ", False))
        for i, clause in enumerate(clauses[:-1] if len(people) < len(targets) else clauses):
            parts.extend([(" and ", False)] if i else [])
            parts.extend(clause)
    if len(people) < len(targets):
        parts.append((", and post to " if people else "post to ", False))
        parts.extend(clauses[-1])
    return parts


def step_minutes(steps: Sequence[Mapping[str, Any]]) -> list[int]:
    """The minute after raising at which each step first fires (the first pass)."""
    found, total = [], 0
    for step in steps:
        found.append(total)
        total += int(step["delay_minutes"])
    return found


def policy_sentences(steps: Sequence[Mapping[str, Any]]) -> list[Sentence]:
    """Every step's sentence, in order."""
    return [step_sentence(s, m) for s, m in zip(steps, step_minutes(steps), strict=True)]


def repeat_sentence(steps: Sequence[Mapping[str, Any]], repeat_count: int) -> str:
    """What happens after the last step (the engine's rule: start over after its delay)."""
    if not steps:
        return "No steps: an alert on a service using this policy pages nobody."
    if repeat_count == 0:
        return "After the last step, nothing more happens: the policy runs once."
    times = "once more" if repeat_count == 1 else f"{repeat_count} more times"
    wait = minutes(int(steps[-1]["delay_minutes"]))
    return f"{wait} after the last step, it starts again from step 1, {times}."
