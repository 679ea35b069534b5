"""`/escalation-policies/<id>`: one policy's page: each step as a sentence, its repeats, the
services that use it, the preview of an alert raised now, and, for those who may change it, the
forms: name, description and repeats; the step editor (app.http.pages.policy_steps); delete.

Reads are for everyone signed in (GET /api/v1/escalation-policies/<id>). Changes take the API's
rule, TEAM (admins, managers of the owning team), and go through the API's own functions
(app.http.api.escalation_policies.change_policy and remove_policy) after the API's schema
(PolicyPatch) validated them: the steps are replaced as a whole, as PATCH does. View names are
the API operations' names, so the audit log records the same action either way. A policy a
service uses is not deleted (409 page naming the services). A step draft that fails validation
comes back on the page with the reasons (422), so nothing typed is lost.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from flask import Response, redirect, request

from app.directory import teams
from app.escalation import policies, sentences
from app.http.api.escalation_policies import change_policy, policy_preview, remove_policy
from app.http.api.routing import NotFound, transaction
from app.http.api.schemas.escalation_policies import PolicyPatch
from app.http.pages.base import Viewer, error_text, page, pages_blueprint, viewer
from app.http.pages.policy_list import form_whole
from app.http.pages.policy_steps import (
    POLICY,
    Draft,
    apply,
    draft_of,
    editor_context,
    read_draft,
)
from app.http.pages.profile_forms import form_model
from app.http.permissions import EVERYONE, TEAM, may_change
from app.platform.errors import ApiError, ValidationFailed

NOTICES = {
    "created": "Escalation policy created: add its steps below.",
    "saved": "Saved.",
    "steps-saved": "Steps saved: alerts already escalating use them from their next step on.",
}
CONTACT_WORDS = {"sms": "SMS", "voice": "voice call", "email": "email", "slack": "Slack",
                 "webhook": "webhook"}  # fmt: skip


def _require(conn: Any, policy_id: UUID) -> dict[str, Any]:
    policy = policies.get_policy(conn, str(policy_id))
    if policy is None:
        raise NotFound(f"no escalation policy with id {policy_id}")
    return policy


def policy_page_with(
    who: Viewer, policy_id: UUID, draft: Draft | None, status: int = 200, problem: str = ""
) -> Response:
    """The policy's page; its editor holds `draft` (None: the saved steps)."""
    with transaction() as conn:
        policy = _require(conn, policy_id)
        team = teams.get_team(conn, policy["team_id"]) if policy["team_id"] else None
        can_edit = may_change(who.identity, policy["team_id"])
        editor = editor_context(conn, draft or draft_of(policy)) if can_edit else {}
        context = {
            "policy": policy,
            "team": team,
            "services": policies.services_using(conn, str(policy_id)),
            "sentences": sentences.policy_sentences(policy["steps"]),
            "repeat_sentence": sentences.repeat_sentence(policy["steps"], policy["repeat_count"]),
            "preview": policy_preview(conn, policy),
        }
    return page(
        "pages/policy.html",
        status=status,
        title=policy["name"],
        can_edit=can_edit,
        problem=problem,
        contact_words=CONTACT_WORDS,
        notice=NOTICES.get(request.args.get("did", ""), ""),
        **context,
        **editor,
    )


@pages_blueprint.get(POLICY)
def policy_page(policy_id: UUID) -> Response:
    """One policy's page."""
    return policy_page_with(viewer(EVERYONE), policy_id, None)


@pages_blueprint.get(POLICY + "/preview")
def policy_preview_fragment(policy_id: UUID) -> Response:
    """The preview alone, computed again for now (the page's Refresh button)."""
    viewer(EVERYONE)
    with transaction() as conn:
        policy = _require(conn, policy_id)
        found = policy_preview(conn, policy)
    return page("pages/_policy_preview.html", preview=found,
                contact_words=CONTACT_WORDS, policy=policy)  # fmt: skip


@pages_blueprint.post(POLICY)
def update_escalation_policy(policy_id: UUID) -> Response:
    """Save the details form (name, description, repeats) or the step editor (`part`)."""
    who = viewer(TEAM, "write")
    if request.form.get("part") == "steps":
        return _save_steps(who, policy_id)
    fields = {
        "name": request.form.get("name", ""),
        "description": request.form.get("description", ""),
        "repeat_count": form_whole(request.form.get("repeat_count", "")),
    }
    changes = form_model(PolicyPatch, fields).model_dump(mode="json", exclude_unset=True)
    change_policy(policy_id, changes, None)
    return _back(policy_id, "saved")


def _save_steps(who: Viewer, policy_id: UUID) -> Response:
    draft = read_draft(request.form)
    try:
        body = form_model(PolicyPatch, {"steps": draft.payload()})
        steps = body.model_dump(mode="json", exclude_unset=True)["steps"]
        change_policy(policy_id, {}, steps)
    except ValidationFailed as error:  # the draft comes back with the reasons
        return policy_page_with(who, policy_id, draft, 422, _step_words(error))
    return _back(policy_id, "steps-saved", "#steps")


def _step_words(error: ApiError) -> str:
    """A validation error about `steps.<i>.…` in the page's words (steps count from 1)."""
    text = re.sub(r"steps\.(\d+)\.", lambda m: f"step {int(m[1]) + 1} ", error_text(error))
    return text.replace("delay_minutes", "minutes to the next step")


@pages_blueprint.post(POLICY + "/steps/draft")
def edit_escalation_steps(policy_id: UUID) -> Response:
    """One action on the step draft: the editor again (htmx), or the whole page (no script).
    Nothing is written."""
    who = viewer(TEAM, "write")
    draft = apply(read_draft(request.form), request.form.get("op", "")[:200], request.form)
    if not request.headers.get("HX-Request"):
        return policy_page_with(who, policy_id, draft)
    with transaction() as conn:
        policy = _require(conn, policy_id)
        context = editor_context(conn, draft)
    return page("pages/_policy_steps.html", policy=policy, **context)


@pages_blueprint.post(POLICY + "/delete")
def delete_escalation_policy(policy_id: UUID) -> Response:
    """Delete the policy (a 409 page when services use it)."""
    viewer(TEAM, "write")
    remove_policy(policy_id)
    return redirect("/escalation-policies?did=deleted", code=303)  # type: ignore[return-value]


def _back(policy_id: UUID, notice: str, anchor: str = "") -> Response:
    return redirect(f"/escalation-policies/{policy_id}?did={notice}{anchor}", code=303)  # type: ignore[return-value]
