"""The profile's contact methods and notification rules: add a method, verify it with its
code, ask for a new code, send a test, disable or enable it, delete it; add and delete rules.

Each form calls the function /api/v1/users/<id>/contact-methods and …/notification-rules call
(app.http.api.contact_methods, app.http.api.notification_rules) for the signed-in user, so the
rules (address checks, provider configured, verification limits, rate limits) are the API's.
A method or rule id of another user is a 404, exactly as the API answers it: nobody reaches
another person's contact methods from here. View names are the API operations' names, so
the audit log records the same action whichever way a change was made.
"""

from __future__ import annotations

from uuid import UUID

from flask import Response, request

from app.http.api import contact_methods as api_methods
from app.http.api import notification_rules as api_rules
from app.http.api.schemas.contact_methods import ContactMethodCreate, VerifyCode
from app.http.api.schemas.notification_rules import NotificationRuleCreate
from app.http.pages.base import pages_blueprint, viewer
from app.http.pages.profile_forms import PROFILE, done, form_id, form_model, shown_once
from app.http.permissions import EVERYONE

METHODS = PROFILE + "/contact-methods"
METHOD = METHODS + "/<uuid:cm_id>"
RULES = PROFILE + "/notification-rules"


def _me() -> UUID:
    return UUID(viewer(EVERYONE, "write").user_id)


@pages_blueprint.post(METHODS)
def create_contact_method() -> Response:
    """Add a contact method; a webhook's signing secret is shown this once."""
    who = viewer(EVERYONE, "write")
    fields = {k: request.form.get(k, "") for k in ("name", "type", "address")}
    body = form_model(ContactMethodCreate, fields)
    created = api_methods.add_contact_method(UUID(who.user_id), body)
    if created.signing_secret:
        return shown_once(
            "Webhook added",
            "Signing secret",
            created.signing_secret,
            "The webhook's requests are signed with this key (HMAC-SHA256). It is shown only "
            "now. A verification code is on its way to the webhook.",
        )
    return done("method-added")


@pages_blueprint.post(METHOD + "/verify")
def verify_contact_method(cm_id: UUID) -> Response:
    """Confirm the code the method received."""
    user_id = _me()
    body = form_model(VerifyCode, {"code": request.form.get("code", "")})
    api_methods.check_code(user_id, cm_id, body.code)
    return done("verified")


@pages_blueprint.post(METHOD + "/send-verification")
def send_verification(cm_id: UUID) -> Response:
    """Send the method a new code (at most one a minute)."""
    api_methods.resend_code(_me(), cm_id)
    return done("code-sent")


@pages_blueprint.post(METHOD + "/test")
def test_contact_method(cm_id: UUID) -> Response:
    """Queue a test message to a verified, enabled method."""
    api_methods.send_test(_me(), cm_id)
    return done("test-sent")


@pages_blueprint.post(METHOD + "/disable", defaults={"disabled": True})
@pages_blueprint.post(METHOD + "/enable", defaults={"disabled": False})
def update_contact_method(cm_id: UUID, disabled: bool) -> Response:
    """Disable or enable the method."""
    api_methods.change_contact_method(_me(), cm_id, {"disabled": disabled})
    return done("disabled" if disabled else "enabled")


@pages_blueprint.post(METHOD + "/delete")
def delete_contact_method(cm_id: UUID) -> Response:
    """Delete the method with its notification rules."""
    api_methods.remove_contact_method(_me(), cm_id)
    return done("method-deleted")


@pages_blueprint.post(RULES)
def create_notification_rule() -> Response:
    """Add a rule: one of your methods, after a delay in minutes."""
    user_id = _me()
    delay = request.form.get("delay_minutes", "").strip()[:16]
    fields = {
        "contact_method_id": str(form_id("contact_method_id")),
        "delay_minutes": int(delay) if delay.isdigit() else delay,  # the schema refuses text
    }
    api_rules.add_rule(user_id, form_model(NotificationRuleCreate, fields))
    return done("rule-added")


@pages_blueprint.post(RULES + "/<uuid:rule_id>/delete")
def delete_notification_rule(rule_id: UUID) -> Response:
    """Delete a rule."""
    api_rules.remove_rule(_me(), rule_id)
    return done("rule-deleted")
