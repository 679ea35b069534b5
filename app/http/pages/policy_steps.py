"""The step editor of a policy's page: a draft of the steps held in the form itself, changed
one action at a time on the server (add a step, move it up or down, remove it, add a target
found by name, drop a target), then saved as a whole, exactly as PATCH
/api/v1/escalation-policies replaces every step.

The draft lives in the form (`steps`, `delay-<i>`, `target-<i>` = "type:id"), never on the
server: a draft action (POST …/steps/draft, the pressed button's `op`) answers the editor
re-rendered (htmx) or the whole page (no script), and writes nothing. The target picker asks
GET …/targets for names containing what was typed (htmx, live) or, without a script, a
"Find" button's draft action lists them. After an action the editor names the control to
focus next (`data-focus`, policies.js), so the editor works by keyboard alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from flask import Response, request
from werkzeug.datastructures import MultiDict

from app.escalation import policies, target_search
from app.http.api.routing import transaction
from app.http.api.schemas.escalation_policies import MAX_STEPS, MAX_TARGETS
from app.http.pages.base import page, pages_blueprint, viewer
from app.http.permissions import EVERYONE
from app.platform.errors import invalid

POLICY = "/escalation-policies/<uuid:policy_id>"
SUGGESTIONS = 10  # targets of each kind the picker suggests
NEW_STEP_DELAY = "5"  # minutes a new step waits before the next one, until changed
MAX_DELAY_TEXT = 12  # characters of a delay field kept (validation names anything longer)


@dataclass
class DraftStep:
    delay: str  # as typed: validated only when saved
    targets: list[tuple[str, str]] = field(default_factory=list)  # (type, id)


@dataclass
class Draft:
    steps: list[DraftStep]
    focus: str = ""  # the id of the control to focus after an action
    search: tuple[int, str] | None = None  # (step, text) the no-script "Find" asked for

    def payload(self) -> list[dict[str, Any]]:
        """The steps as PATCH /api/v1/escalation-policies takes them (validated by its model)."""
        return [
            {
                "delay_minutes": int(s.delay) if s.delay.strip().isdigit() else s.delay,
                "targets": [{"type": kind, "id": ident} for kind, ident in s.targets],
            }
            for s in self.steps
        ]


def draft_of(policy: dict[str, Any]) -> Draft:
    """The saved steps as a draft."""
    return Draft(
        [
            DraftStep(str(s["delay_minutes"]), [(t["type"], t["id"]) for t in s["targets"]])
            for s in policy["steps"]
        ]
    )


def _index(text: str, size: int, name: str) -> int:
    if not text.isdigit() or int(text) >= size:
        raise invalid(name, f"must be a step number below {size}")
    return int(text)


def _target(value: str, name: str) -> tuple[str, str]:
    kind, _, ident = value.partition(":")
    if kind not in policies.TARGET_TABLES:
        raise invalid(name, f"must be one of {', '.join(policies.TARGET_TABLES)} and an id")
    try:
        return kind, str(UUID(ident[:64]))
    except ValueError:
        raise invalid(name, "must name a target by type and id") from None


def read_draft(form: MultiDict[str, str]) -> Draft:
    """The draft a form holds (422 naming a malformed field; bounded by the API's limits)."""
    count = _index(form.get("steps", ""), MAX_STEPS + 1, "steps")
    steps = []
    for i in range(count):
        found = [_target(v, f"target-{i}") for v in form.getlist(f"target-{i}")[: MAX_TARGETS + 1]]
        delay = form.get(f"delay-{i}", "").strip()[:MAX_DELAY_TEXT]
        steps.append(DraftStep(delay, list(dict.fromkeys(found))))
    return Draft(steps)


def apply(draft: Draft, op: str, form: MultiDict[str, str]) -> Draft:
    """`draft` after the action `op` names (422 for one that makes no sense)."""
    verb, _, rest = op.partition(":")
    steps, size = draft.steps, len(draft.steps)
    if verb == "add-step":
        if size >= MAX_STEPS:
            raise invalid("steps", f"a policy has at most {MAX_STEPS} steps")
        steps.append(DraftStep(NEW_STEP_DELAY))
        draft.focus = f"q-{size}"
        return draft
    index_text, _, target = rest.partition(":")
    i = _index(index_text, size, "op")
    if verb in ("up", "down"):
        j = i - 1 if verb == "up" else i + 1
        if not 0 <= j < size:
            raise invalid("op", "that step cannot move further")
        steps[i], steps[j] = steps[j], steps[i]
        can_again = (j > 0) if verb == "up" else (j < size - 1)
        draft.focus = f"{verb if can_again else ('down' if verb == 'up' else 'up')}-{j}"
    elif verb == "remove":
        del steps[i]
        draft.focus = f"up-{i - 1}" if i else "add-step"
    elif verb == "add":
        chosen = _target(target, "op")
        if chosen not in steps[i].targets:
            if len(steps[i].targets) >= MAX_TARGETS:
                raise invalid("op", f"a step has at most {MAX_TARGETS} targets")
            steps[i].targets.append(chosen)
        draft.focus = f"q-{i}"
    elif verb == "drop":
        j = _index(target, len(steps[i].targets), "op")
        del steps[i].targets[j]
        draft.focus = f"q-{i}"
    elif verb == "search":
        draft.search = (i, form.get(f"q-{i}", "")[: target_search.MAX_QUERY])
        draft.focus = f"q-{i}"
    else:
        raise invalid("op", "is not an action of the step editor")
    return draft


def editor_context(conn: Any, draft: Draft) -> dict[str, Any]:
    """What the editor template needs: the draft, its targets' names, the no-script search's
    suggestions."""
    names = target_search.target_names(conn, {t for s in draft.steps for t in s.targets})
    found: list[dict[str, Any]] = []
    if draft.search is not None and draft.search[1].strip():
        found = target_search.search_targets(conn, draft.search[1], SUGGESTIONS)
    return {"draft": draft, "target_names": names, "suggestions": found,
            "max_steps": MAX_STEPS}  # fmt: skip


@pages_blueprint.get(POLICY + "/targets")
def find_targets(policy_id: UUID) -> Response:
    """The picker's suggestions for step `step`: targets whose name holds `q-<step>`."""
    viewer(EVERYONE)
    step = _index(request.args.get("step", ""), MAX_STEPS, "step")
    text = request.args.get(f"q-{step}", "")[: target_search.MAX_QUERY]
    found: list[dict[str, Any]] = []
    if text.strip():
        with transaction() as conn:
            found = target_search.search_targets(conn, text, SUGGESTIONS)
    return page("pages/_policy_targets.html", policy_id=str(policy_id), step=step,
                suggestions=found, searched=text.strip())  # fmt: skip
