"""/api/v1/escalation-policies: who is paged for a service's alert, in what order, how often.

Step k fires; `delay_minutes` later step k+1 fires; after the last step the whole list runs again
`repeat_count` more times. Targets are users, schedules, rotations (whoever is on call when the
step fires) and notification channels. The engine reads the policy as it stands each time a step
fires: editing a policy applies to open alerts from their next step on, and never strands one
(a step index past the new end simply finishes the pass). A policy a service uses cannot be
deleted (409 naming the services).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg

from app.directory import users as directory_users
from app.escalation import on_call_now, policies, preview
from app.http.api import listing
from app.http.api.routing import CONSTRAINT_FIELDS, endpoint, settings, transaction
from app.http.api.schemas.base import AtQuery, ErrorBody, PageQuery
from app.http.api.schemas.escalation_policies import Policy, PolicyCreate, PolicyPage, PolicyPatch
from app.http.api.schemas.policy_preview import PolicyPreview
from app.http.api.schemas.service_on_call import ServiceOnCall
from app.http.api.services import require_service
from app.http.permissions import TEAM, TEAM_CREATE, TEAM_MOVE
from app.platform.errors import Conflict, NotFound, invalid

TAG = "escalation policies"
ONE = "/escalation-policies/<uuid:policy_id>"

CONSTRAINT_FIELDS["escalation_policies_name_key"] = "name"


def check_targets(conn: psycopg.Connection[Any], steps: list[dict[str, Any]]) -> None:
    """A 422 naming the first target whose id does not exist (the rows found are locked)."""
    missing = policies.missing_targets(conn, steps)
    if missing:
        i, j = missing[0]
        target = steps[i]["targets"][j]
        raise invalid(f"steps.{i}.targets.{j}.id", f"no {target['type']} with id {target['id']}")


def _not_found(policy_id: UUID) -> NotFound:
    return NotFound(f"no escalation policy with id {policy_id}")


@endpoint("/escalation-policies", "GET", "read", TAG, HTTP_200=PolicyPage)
def list_escalation_policies(query: PageQuery) -> PolicyPage:
    """List escalation policies with their steps, oldest first."""
    return listing.oldest_first(query, policies.list_policies, Policy.model_validate, PolicyPage)


@endpoint("/escalation-policies", "POST", "write", TAG, HTTP_201=Policy, allow=TEAM_CREATE)
def create_escalation_policy(json: PolicyCreate) -> tuple[Policy, int]:
    """Create a policy; its name must be unique (case-insensitively), every target must exist."""
    steps = json.model_dump(mode="json")["steps"]
    return Policy.model_validate(add_policy(json.model_dump(exclude={"steps"}), steps)), 201


def add_policy(fields: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Create a policy from validated fields and steps (every target must exist)."""
    with transaction() as conn:
        check_targets(conn, steps)
        return policies.create_policy(conn, fields, steps)


@endpoint(ONE, "GET", "read", TAG, HTTP_200=Policy)
def get_escalation_policy(policy_id: UUID) -> Policy:
    """Get one policy with its steps in order."""
    with transaction() as conn:
        row = policies.get_policy(conn, str(policy_id))
    if row is None:
        raise _not_found(policy_id)
    return Policy.model_validate(row)


@endpoint(ONE + "/preview", "GET", "read", TAG, HTTP_200=PolicyPreview)
def preview_escalation_policy(policy_id: UUID) -> PolicyPreview:
    """What the policy would do to an alert raised now that nobody acknowledges: each step's
    firing minute (repeats included), whom each target reaches then, each person's
    notifications by contact method and minute, and warnings where nobody is reachable."""
    with transaction() as conn:
        row = policies.get_policy(conn, str(policy_id))
        if row is None:
            raise _not_found(policy_id)
        found = policy_preview(conn, row)
    return PolicyPreview.model_validate({"policy_id": row["id"], **dataclasses.asdict(found)})


def policy_preview(conn: psycopg.Connection[Any], policy: dict[str, Any]) -> preview.Preview:
    """The preview of `policy` (get_policy's) for an alert raised now, in the engine's minutes."""
    return preview.compute(conn, policy, datetime.now(UTC), settings().delivery.minute_seconds)


@endpoint(ONE, "PATCH", "write", TAG, HTTP_200=Policy, allow=TEAM_MOVE)
def update_escalation_policy(policy_id: UUID, json: PolicyPatch) -> Policy:
    """Change a policy; `steps` replaces every step (new step ids, positions 0..n-1)."""
    changes = json.model_dump(mode="json", exclude_unset=True)
    steps = changes.pop("steps", None)
    return Policy.model_validate(change_policy(policy_id, changes, steps))


def change_policy(
    policy_id: UUID, changes: dict[str, Any], steps: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """Apply validated `changes` and, if given, replace every step (their targets checked);
    the policy as it now stands (404 when there is none)."""
    with transaction() as conn:
        if policies.get_policy(conn, str(policy_id), lock=True) is None:
            raise _not_found(policy_id)
        if steps is not None:
            check_targets(conn, steps)
        row = policies.update_policy(conn, str(policy_id), changes, steps)
    assert row is not None  # locked above
    return row


@endpoint(ONE, "DELETE", "write", TAG, HTTP_204=None, HTTP_409=ErrorBody, allow=TEAM)
def delete_escalation_policy(policy_id: UUID) -> tuple[str, int]:
    """Delete a policy that no service uses (409 naming the services that do)."""
    remove_policy(policy_id)
    return "", 204


def remove_policy(policy_id: UUID) -> None:
    """Delete the policy (404 when there is none; 409 naming the services that use it)."""
    try:
        with transaction() as conn:
            if policies.get_policy(conn, str(policy_id), lock=True) is None:
                raise _not_found(policy_id)
            users = policies.services_using(conn, str(policy_id))
            if users:
                raise _in_use(policy_id, users)
            policies.delete_policy(conn, str(policy_id))
    except psycopg.errors.ForeignKeyViolation:  # a service took it up meanwhile
        with transaction() as conn:
            raise _in_use(policy_id, policies.services_using(conn, str(policy_id))) from None


def _in_use(policy_id: UUID, services: list[dict[str, Any]]) -> Conflict:
    names = ", ".join(f"{s['name']} ({s['id']})" for s in services)
    return Conflict(
        f"escalation policy {policy_id} is used by services: {names}; "
        "give them another policy (or none) first",
        {"services": [s["id"] for s in services]},
    )


# ---- who is on call for a service (issue 5) ------------------------------------------------------


@endpoint("/services/<uuid:service_id>/on-call", "GET", "read", TAG, HTTP_200=ServiceOnCall)
def service_on_call(service_id: UUID, query: AtQuery) -> ServiceOnCall:
    """The service's escalation policy, and per step who each target has on call now (or `at`).
    Channels are listed with no users; a service without a policy has no steps."""
    at = query.at or datetime.now(UTC)
    with transaction() as conn:
        service = require_service(conn, service_id)
        found = on_call_now.services_on_call(conn, [service], at)[str(service_id)]
        names = directory_users.user_names(conn, on_call_now.user_ids([found]))
    for step in found["steps"]:
        for target in step["targets"]:
            ids = target.pop("user_ids")
            target["users"] = [{"id": u, "name": names[u]} for u in ids if u in names]
    return ServiceOnCall.model_validate({"service_id": str(service_id), "at": at, **found})
