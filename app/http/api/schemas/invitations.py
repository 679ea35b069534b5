"""Schemas of /api/v1/invitations."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from app.http.api.schemas.base import Input, Name, Output, OutTime
from app.http.api.schemas.users import Email, Role

# pending: the link works; accepted: the person chose a password with it; replaced: a newer
# invitation voided it; revoked: an admin voided it; password_set: the user's password was set
# another way; expired; user_disabled.
InvitationState = Literal[
    "pending", "accepted", "replaced", "revoked", "password_set", "expired", "user_disabled"
]
VOID_STATES = {"reissued": "replaced", "revoked": "revoked", "password_changed": "password_set"}


class InvitationCreate(Input):
    email: Email
    name: Name = Field(description="the new user's name (ignored when re-inviting a user)")
    role: Role = Field(
        "user", description="the new user's role (ignored when re-inviting: PATCH the user)"
    )


class Invitation(Output):
    id: str
    user_id: str
    email: str
    name: str
    role: Role
    state: InvitationState
    created_at: OutTime
    expires_at: OutTime
    accepted_at: OutTime | None
    email_sent_at: OutTime | None = Field(description="when the worker's SMTP send succeeded")


class InvitationCreated(Invitation):
    user_created: bool = Field(description="false: an existing user without a password")
    delivery: Literal["queued", "not_configured", "not_queued"] = Field(
        description="queued: a worker emails the link; not_configured: SMTP is not set up, pass "
        "`link` on yourself; not_queued: the queue (Redis) was unavailable, invite again"
    )
    link: str | None = Field(
        description="the one-time link, only when SMTP is not configured (otherwise only the "
        "email carries it)"
    )


class InvitationPage(Output):
    items: list[Invitation]
    next_cursor: str | None


def invitation_state(row: dict[str, Any]) -> str:
    """The state of an invitation link row (signin_links.LINK_COLUMNS with `live`)."""
    if row["live"]:
        return "pending"
    if row["used_at"] is not None:
        return "accepted"
    if row["voided_at"] is not None:
        return VOID_STATES[row["void_reason"]]
    return "user_disabled" if row["disabled_at"] is not None else "expired"


def invitation(row: dict[str, Any]) -> Invitation:
    return Invitation.model_validate(_fields(row))


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "id": str(row["id"]),
        "state": invitation_state(row),
        "accepted_at": row["used_at"],
        "email_sent_at": row["emailed_at"],
    }


def created(row: dict[str, Any], user_created: bool, delivery: str, link: str | None) -> Any:
    return InvitationCreated.model_validate(
        {**_fields(row), "user_created": user_created, "delivery": delivery, "link": link}
    )
