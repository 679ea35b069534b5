"""/api/v1/users/<id>/contact-methods: how a person is reached, and proving the address works.

A new contact method (or one whose address changed) is unverified: a six-digit code goes out
through the method itself, and `POST …/verify {"code"}` confirms it. Codes expire after 15
minutes, allow 5 wrong guesses, and a new one may be requested once a minute. The engine pages
only verified, enabled, not-STOPped methods. A type whose provider has no credentials configured
is refused (422 naming the env vars to set), so nobody adds a method that can never be reached.
A webhook URL that resolves inside the network is refused too (app.http.api.webhook_urls).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import psycopg
import structlog

from app.contacts import contact_methods, verification
from app.http.api import listing
from app.http.api.parents import require_user
from app.http.api.routing import CONSTRAINT_FIELDS, endpoint, settings, transaction
from app.http.api.schemas.addresses import check_address
from app.http.api.schemas.base import ErrorBody, PageQuery, dump
from app.http.api.schemas.contact_methods import (
    ContactMethod,
    ContactMethodCreate,
    ContactMethodCreated,
    ContactMethodPage,
    ContactMethodPatch,
    VerifyCode,
)
from app.http.api.schemas.messages import MessageQueued
from app.http.api.webhook_urls import check_webhook_url
from app.http.permissions import SELF
from app.messages import create
from app.platform import ratelimit
from app.platform.errors import Conflict, NotFound, invalid
from app.platform.ratelimit import RateLimited
from config.settings import PROVIDER_ENV, PROVIDER_FOR

TAG = "contact methods"
MANY = "/users/<uuid:user_id>/contact-methods"
ONE = MANY + "/<uuid:cm_id>"
log = structlog.get_logger(__name__)

CONSTRAINT_FIELDS["contact_methods_destination"] = "address"


def require_method(
    conn: psycopg.Connection[Any], user_id: UUID, cm_id: UUID, lock: bool = False
) -> dict[str, Any]:
    row = contact_methods.get_contact_method(conn, str(user_id), str(cm_id), lock)
    if row is None:
        raise NotFound(f"no contact method with id {cm_id} for user {user_id}")
    return row


def _check_address(kind: str, address: str) -> None:
    check_address(kind, address)
    if kind == "webhook":
        check_webhook_url(address)


def _require_provider(kind: str) -> None:
    provider = PROVIDER_FOR[kind]
    if not settings().delivery.configured(provider):
        raise invalid(
            "type",
            f"{kind} needs the {provider} provider, which is not configured: "
            f"set {PROVIDER_ENV[provider]}",
        )


def _send_code(conn: psycopg.Connection[Any], user_id: UUID, method: dict[str, Any]) -> int:
    """Send `method` a new code, within the abuse limits: per destination address (however it
    came to be asked: create, address change, delete and re-create) and per user. Past either,
    RateLimited (429) rolls the whole request back: nothing is created, changed or sent."""
    config = settings()
    found = ratelimit.limiter()
    address = ratelimit.destination_key(method["type"], method["address"])
    found.hit(config.limits.verify_per_address, "verification codes to this address", address)
    found.hit(config.limits.verify_per_user, "verification codes for this user", str(user_id))
    return verification.send_code(
        conn, config.secret_key, method["id"], config.delivery.max_attempts
    )


@endpoint(MANY, "GET", "read", TAG, HTTP_200=ContactMethodPage)
def list_contact_methods(user_id: UUID, query: PageQuery) -> ContactMethodPage:
    """List the user's contact methods, oldest first."""
    return listing.oldest_first(
        query,
        lambda conn, after, limit: contact_methods.list_contact_methods(
            conn, str(user_id), after, limit
        ),
        ContactMethod.model_validate,
        ContactMethodPage,
        parent=lambda conn: require_user(conn, user_id),
    )


@endpoint(MANY, "POST", "write", TAG, HTTP_201=ContactMethodCreated, HTTP_429=ErrorBody, allow=SELF)
def create_contact_method(
    user_id: UUID, json: ContactMethodCreate
) -> tuple[ContactMethodCreated, int]:
    """Add a contact method (unverified) and send it a verification code. Webhooks get a
    signing secret, shown only here. The same type and address twice: 409."""
    return add_contact_method(user_id, json), 201


def add_contact_method(user_id: UUID, json: ContactMethodCreate) -> ContactMethodCreated:
    """The rule of adding a contact method (the API's and the profile page's)."""
    _check_address(json.type, json.address)
    _require_provider(json.type)
    with transaction() as conn:
        require_user(conn, user_id)
        row = contact_methods.create_contact_method(
            conn, str(user_id), json.name, json.type, json.address, json.status_updates
        )
        message_id = _send_code(conn, user_id, row)
    log.info("contact_method_created", contact_method_id=row["id"], type=json.type,
             verification_message_id=message_id)  # fmt: skip
    return ContactMethodCreated.model_validate(row)


@endpoint(ONE, "GET", "read", TAG, HTTP_200=ContactMethod)
def get_contact_method(user_id: UUID, cm_id: UUID) -> ContactMethod:
    """Get one contact method."""
    with transaction() as conn:
        return ContactMethod.model_validate(require_method(conn, user_id, cm_id))


@endpoint(ONE, "PATCH", "write", TAG, HTTP_200=ContactMethod, HTTP_429=ErrorBody, allow=SELF)
def update_contact_method(user_id: UUID, cm_id: UUID, json: ContactMethodPatch) -> ContactMethod:
    """Rename, disable/enable, opt in/out of status updates, or change the address (which makes
    the method unverified again and sends a new code)."""
    return change_contact_method(user_id, cm_id, dump(json))


def change_contact_method(user_id: UUID, cm_id: UUID, changes: dict[str, Any]) -> ContactMethod:
    """The rule of changing a contact method (`changes`: a validated ContactMethodPatch's)."""
    if "address" in changes:
        # Checked before the row is locked: a webhook URL's check waits on DNS, and no
        # connection or lock is held meanwhile. The type never changes, so it can be read first.
        with transaction() as conn:
            before = require_method(conn, user_id, cm_id)
        if changes["address"] != before["address"]:
            _check_address(before["type"], changes["address"])
            _require_provider(before["type"])
    with transaction() as conn:
        current = require_method(conn, user_id, cm_id, lock=True)
        address_changed = changes.get("address", current["address"]) != current["address"]
        if not address_changed:
            changes.pop("address", None)
        row = contact_methods.update_contact_method(conn, str(user_id), str(cm_id), changes)
        assert row is not None  # locked above
        if address_changed:
            _send_code(conn, user_id, row)
    return ContactMethod.model_validate(row)


@endpoint(ONE, "DELETE", "write", TAG, HTTP_204=None, allow=SELF)
def delete_contact_method(user_id: UUID, cm_id: UUID) -> tuple[str, int]:
    """Delete a contact method with its notification rules."""
    remove_contact_method(user_id, cm_id)
    return "", 204


def remove_contact_method(user_id: UUID, cm_id: UUID) -> None:
    """Delete the user's contact method (404 if they have no such one)."""
    with transaction() as conn:
        if not contact_methods.delete_contact_method(conn, str(user_id), str(cm_id)):
            raise NotFound(f"no contact method with id {cm_id} for user {user_id}")


@endpoint(
    ONE + "/send-verification",
    "POST",
    "write",
    TAG,
    HTTP_202=MessageQueued,
    HTTP_409=ErrorBody,
    HTTP_429=ErrorBody,
    allow=SELF,
)
def send_verification(user_id: UUID, cm_id: UUID) -> tuple[MessageQueued, int]:
    """Send a new code (the old one stops working). At most one a minute (429, Retry-After);
    an already verified method: 409."""
    return MessageQueued(message_id=str(resend_code(user_id, cm_id))), 202


def resend_code(user_id: UUID, cm_id: UUID) -> int:
    """Send the unverified method a new code, at most one a minute; the message's id."""
    with transaction() as conn:
        method = require_method(conn, user_id, cm_id, lock=True)
        if method["verified"]:
            raise Conflict(f"contact method {cm_id} is already verified")
        age = verification.last_code_age(conn, str(cm_id))
        if age is not None and age < verification.RESEND_AFTER:
            wait = max(1, int((verification.RESEND_AFTER - age).total_seconds() + 0.999))
            raise RateLimited(f"a code was sent less than a minute ago; retry in {wait} s", wait)
        return _send_code(conn, user_id, method)


@endpoint(ONE + "/verify", "POST", "write", TAG, HTTP_200=ContactMethod, allow=SELF)
def verify_contact_method(user_id: UUID, cm_id: UUID, json: VerifyCode) -> ContactMethod:
    """Confirm the code the method received. Wrong code: 422 (5 tries per code); expired, used
    up or never sent: 409 (request a new one); already verified: 200, nothing changes."""
    return check_code(user_id, cm_id, json.code)


def check_code(user_id: UUID, cm_id: UUID, code: str) -> ContactMethod:
    """Verify the method with `code` (the refusals: verify_contact_method's)."""
    with transaction() as conn:
        method = require_method(conn, user_id, cm_id, lock=True)
        if method["verified"]:
            return ContactMethod.model_validate(method)
        verdict = verification.check_code(conn, settings().secret_key, str(cm_id), code)
        method = require_method(conn, user_id, cm_id)
    # Out of the transaction: a wrong guess is counted (committed) before it is refused.
    log.info("contact_method_verification", contact_method_id=str(cm_id), outcome=verdict.outcome)
    resend = (
        f"request a new one: POST /api/v1/users/{user_id}/contact-methods/{cm_id}/send-verification"
    )
    if verdict.outcome == "wrong":
        raise invalid("code", f"wrong code; {verdict.attempts_left} attempts left")
    if verdict.outcome == "void":
        raise Conflict(f"too many wrong codes: this code is void; {resend}")
    if verdict.outcome == "expired":
        raise Conflict(f"the code has expired; {resend}")
    if verdict.outcome == "none":
        raise Conflict(f"no code is pending; {resend}")
    return ContactMethod.model_validate(method)


@endpoint(
    ONE + "/test",
    "POST",
    "write",
    TAG,
    HTTP_202=MessageQueued,
    HTTP_409=ErrorBody,
    HTTP_429=ErrorBody,
    allow=SELF,
)
def test_contact_method(user_id: UUID, cm_id: UUID) -> tuple[MessageQueued, int]:
    """Queue a test message to the method (409 if it is unverified, disabled or STOPped; 429
    past KLAXON_LIMIT_TEST_SENDS to its address)."""
    return MessageQueued(message_id=str(send_test(user_id, cm_id))), 202


def send_test(user_id: UUID, cm_id: UUID) -> int:
    """Queue a test message to the user's method; the message's id."""
    with transaction() as conn:
        method = require_method(conn, user_id, cm_id)
        for flag, problem in (
            (not method["verified"], "is not verified"),
            (method["disabled"], "is disabled"),
            (method["stopped"], "replied STOP"),
        ):
            if flag:
                raise Conflict(f"contact method {cm_id} {problem}; nothing can be sent to it")
        address = ratelimit.destination_key(method["type"], method["address"])
        limit = settings().limits.test_sends
        ratelimit.limiter().hit(limit, "test messages to this address", address)
        return _queue_test(conn, str(cm_id))


def _queue_test(conn: psycopg.Connection[Any], cm_id: str) -> int:
    message_id = create.to_contact_method(
        conn,
        "test",
        cm_id,
        dedup_key=f"test:{cm_id}:{uuid4().hex}",
        max_attempts=settings().delivery.max_attempts,
    )
    assert message_id is not None
    return message_id
