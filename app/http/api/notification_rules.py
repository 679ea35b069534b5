"""/api/v1/users/<id>/notification-rules: "reach me through this method N minutes after I am
engaged on an alert". A rule may only use its own user's contact methods (422 otherwise); the
same method with the same delay twice is a 409."""

from __future__ import annotations

from uuid import UUID

from app.contacts import contact_methods, notification_rules
from app.http.api import listing
from app.http.api.parents import require_user
from app.http.api.routing import CONSTRAINT_FIELDS, endpoint, transaction
from app.http.api.schemas.base import PageQuery
from app.http.api.schemas.notification_rules import (
    NotificationRule,
    NotificationRuleCreate,
    NotificationRulePage,
)
from app.http.permissions import SELF
from app.platform.errors import NotFound, invalid

TAG = "notification rules"
MANY = "/users/<uuid:user_id>/notification-rules"
ONE = MANY + "/<uuid:rule_id>"

CONSTRAINT_FIELDS["notification_rules_contact_method_id_delay_minutes_key"] = "delay_minutes"


@endpoint(MANY, "GET", "read", TAG, HTTP_200=NotificationRulePage)
def list_notification_rules(user_id: UUID, query: PageQuery) -> NotificationRulePage:
    """List the user's notification rules, oldest first."""
    return listing.oldest_first(
        query,
        lambda conn, after, limit: notification_rules.list_rules(conn, str(user_id), after, limit),
        NotificationRule.model_validate,
        NotificationRulePage,
        parent=lambda conn: require_user(conn, user_id),
    )


@endpoint(MANY, "POST", "write", TAG, HTTP_201=NotificationRule, allow=SELF)
def create_notification_rule(
    user_id: UUID, json: NotificationRuleCreate
) -> tuple[NotificationRule, int]:
    """Add a rule: contact method (one of this user's) and delay in minutes."""
    return add_rule(user_id, json), 201


def add_rule(user_id: UUID, json: NotificationRuleCreate) -> NotificationRule:
    """The rule of adding a notification rule (the API's and the profile page's)."""
    with transaction() as conn:
        require_user(conn, user_id)
        cm_id = str(json.contact_method_id)
        if contact_methods.get_contact_method(conn, str(user_id), cm_id, lock=True) is None:
            raise invalid("contact_method_id", f"user {user_id} has no contact method {cm_id}")
        row = notification_rules.create_rule(conn, str(user_id), cm_id, json.delay_minutes)
    return NotificationRule.model_validate(row)


@endpoint(ONE, "GET", "read", TAG, HTTP_200=NotificationRule)
def get_notification_rule(user_id: UUID, rule_id: UUID) -> NotificationRule:
    """Get one notification rule."""
    with transaction() as conn:
        row = notification_rules.get_rule(conn, str(user_id), str(rule_id))
    if row is None:
        raise NotFound(f"no notification rule with id {rule_id} for user {user_id}")
    return NotificationRule.model_validate(row)


@endpoint(ONE, "DELETE", "write", TAG, HTTP_204=None, allow=SELF)
def delete_notification_rule(user_id: UUID, rule_id: UUID) -> tuple[str, int]:
    """Delete a notification rule."""
    remove_rule(user_id, rule_id)
    return "", 204


def remove_rule(user_id: UUID, rule_id: UUID) -> None:
    """Delete the user's notification rule (404 if they have no such one)."""
    with transaction() as conn:
        if not notification_rules.delete_rule(conn, str(user_id), str(rule_id)):
            raise NotFound(f"no notification rule with id {rule_id} for user {user_id}")
