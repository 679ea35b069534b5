"""/api/v1/escalation-policies: who is paged for a service's alert, in what order, how often.

Step k fires; `delay_minutes` later step k+1 fires; after the last step the whole list runs again
`repeat_count` more times. Targets are users, schedules, rotations (whoever is on call when the
step fires) and notification channels. The engine reads the policy as it stands each time a step
fires: editing a policy applies to open alerts from their next step on, and never strands one
(a step index past the new end simply finishes the pass). A policy a service uses cannot be
deleted (409 naming the services).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg

from app.directory import users as directory_users
from app.escalation import policies
from app.escalation import service_on_call as on_call
from app.http.api import listing
from app.http.api.routing import CONSTRAINT_FIELDS, endpoint, transaction
from app.http.api.schemas.base import AtQuery, ErrorBody, PageQuery
from app.http.api.schemas.escalation_policies import Policy, PolicyCreate, PolicyPage, PolicyPatch
from app.http.api.schemas.service_on_call import ServiceOnCall
from app.http.api.services import require_service
from app.http.permissions import TEAM, TEAM_CREATE, TEAM_MOVE
from app.platform.errors import Conflict, NotFound, invalid

TAG = "escalation policies"
ONE = "/escalation-policies/<uuid:policy_id>"

CONSTRAINT_FIELDS["escalation_policies_name_key"] = "name"


def _check_targets(conn: psycopg.Connection[Any], steps: list[dict[str, Any]]) -> None:
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
    with transaction() as conn:
        _check_targets(conn, steps)
        row = policies.create_policy(conn, json.model_dump(exclude={"steps"}), steps)
    return Policy.model_validate(row), 201


@endpoint(ONE, "GET", "read", TAG, HTTP_200=Policy)
def get_escalation_policy(policy_id: UUID) -> Policy:
    """Get one policy with its steps in order."""
    with transaction() as conn:
        row = policies.get_policy(conn, str(policy_id))
    if row is None:
        raise _not_found(policy_id)
    return Policy.model_validate(row)


@endpoint(ONE, "PATCH", "write", TAG, HTTP_200=Policy, allow=TEAM_MOVE)
def update_escalation_policy(policy_id: UUID, json: PolicyPatch) -> Policy:
    """Change a policy; `steps` replaces every step (new step ids, positions 0..n-1)."""
    changes = json.model_dump(mode="json", exclude_unset=True)
    steps = changes.pop("steps", None)
    with transaction() as conn:
        if policies.get_policy(conn, str(policy_id), lock=True) is None:
            raise _not_found(policy_id)
        if steps is not None:
            _check_targets(conn, steps)
        row = policies.update_policy(conn, str(policy_id), changes, steps)
    assert row is not None  # locked above
    return Policy.model_validate(row)


@endpoint(ONE, "DELETE", "write", TAG, HTTP_204=None, HTTP_409=ErrorBody, allow=TEAM)
def delete_escalation_policy(policy_id: UUID) -> tuple[str, int]:
    """Delete a policy that no service uses (409 naming the services that do)."""
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
    return "", 204


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
        policy_id = service["escalation_policy_id"]
        policy = policies.get_policy(conn, policy_id) if policy_id else None
        steps = on_call.steps_on_call(conn, policy, at)
        names = directory_users.user_names(
            conn, {u for s in steps for t in s["targets"] for u in t["user_ids"]}
        )
    for step in steps:
        for target in step["targets"]:
            ids = target.pop("user_ids")
            target["users"] = [{"id": u, "name": names[u]} for u in ids if u in names]
    return ServiceOnCall.model_validate(
        {
            "service_id": str(service_id),
            "at": at,
            "escalation_policy_id": policy_id,
            "escalation_policy_name": policy["name"] if policy else None,
            "steps": steps,
        }
    )
