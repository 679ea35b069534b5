"""/api/v1/schedules/<id>/rules: a schedule's rules (app.http.api.schemas.schedule_rules), each
putting a user or a rotation on call on chosen local weekdays between local times."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.http.api import listing
from app.http.api.routing import endpoint, transaction
from app.http.api.schedules.shared import ONE, TAG, not_found, require_schedule
from app.http.api.schemas.base import PageQuery
from app.http.api.schemas.schedule_rules import Rule, RuleCreate, RulePage, RulePatch
from app.http.permissions import TEAM
from app.oncall import schedule_rules as stored_rules

RULES = ONE + "/rules"
RULE = RULES + "/<uuid:rule_id>"


def _rule_fields(fields: dict[str, Any]) -> dict[str, Any]:
    if fields.get("target_id") is not None:
        fields["target_id"] = str(fields["target_id"])
    return fields


@endpoint(RULES, "GET", "read", TAG, HTTP_200=RulePage)
def list_rules(schedule_id: UUID, query: PageQuery) -> RulePage:
    """List a schedule's rules, oldest first."""
    return listing.oldest_first(
        query,
        lambda conn, after, limit: stored_rules.list_schedule_rules(
            conn, str(schedule_id), after, limit
        ),
        Rule.model_validate,
        RulePage,
        parent=lambda conn: require_schedule(conn, schedule_id),
    )


@endpoint(RULES, "POST", "write", TAG, HTTP_201=Rule, allow=TEAM)
def create_rule(schedule_id: UUID, json: RuleCreate) -> tuple[Rule, int]:
    """Add a rule: a user or rotation on call on some weekdays between two local times."""
    return Rule.model_validate(add_rule(schedule_id, json)), 201


def add_rule(schedule_id: UUID, body: RuleCreate) -> dict[str, Any]:
    """Store a rule (POST …/rules, and the schedule page's rule form)."""
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        return stored_rules.create_schedule_rule(
            conn, str(schedule_id), _rule_fields(body.model_dump())
        )


@endpoint(RULE, "GET", "read", TAG, HTTP_200=Rule)
def get_rule(schedule_id: UUID, rule_id: UUID) -> Rule:
    """Get one rule."""
    with transaction() as conn:
        row = stored_rules.get_schedule_rule(conn, str(schedule_id), str(rule_id))
    if row is None:
        raise not_found("rule", rule_id, schedule_id)
    return Rule.model_validate(row)


@endpoint(RULE, "PATCH", "write", TAG, HTTP_200=Rule, allow=TEAM)
def update_rule(schedule_id: UUID, rule_id: UUID, json: RulePatch) -> Rule:
    """Change a rule (target_type and target_id change together)."""
    return Rule.model_validate(change_rule(schedule_id, rule_id, json))


def change_rule(schedule_id: UUID, rule_id: UUID, body: RulePatch) -> dict[str, Any]:
    """Store a rule's changes (404 when the schedule has no such rule)."""
    with transaction() as conn:
        row = stored_rules.update_schedule_rule(
            conn, str(schedule_id), str(rule_id), _rule_fields(body.changes())
        )
    if row is None:
        raise not_found("rule", rule_id, schedule_id)
    return row


@endpoint(RULE, "DELETE", "write", TAG, HTTP_204=None, allow=TEAM)
def delete_rule(schedule_id: UUID, rule_id: UUID) -> tuple[str, int]:
    """Delete a rule."""
    remove_rule(schedule_id, rule_id)
    return "", 204


def remove_rule(schedule_id: UUID, rule_id: UUID) -> None:
    """Delete the schedule's rule (404 when it has no such rule)."""
    with transaction() as conn:
        if not stored_rules.delete_schedule_rule(conn, str(schedule_id), str(rule_id)):
            raise not_found("rule", rule_id, schedule_id)
