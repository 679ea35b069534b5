"""/api/v1/invitations: admins invite people by email (README, Signing in).

An invitation makes the user (without a password) and a one-time link a worker emails; the
person opens it, chooses a password and is signed in (app.http.signin_link_pages). Without
SMTP the answer carries the link for the admin to pass on: it is never shown again.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog

from app.directory import invitations, signin_links, signin_mail
from app.http import link_mail
from app.http.api import listing
from app.http.api.listing import After, Conn
from app.http.api.routing import endpoint, settings, transaction
from app.http.api.schemas import invitations as schemas
from app.http.api.schemas.base import PageQuery
from app.http.auth import identity
from app.http.permissions import ADMINS
from app.platform.errors import Conflict, NotFound

TAG = "invitations"
log = structlog.get_logger(__name__)


@endpoint("/invitations", "POST", "admin", TAG, HTTP_201=schemas.InvitationCreated, allow=ADMINS)
def create_invitation(json: schemas.InvitationCreate) -> tuple[schemas.InvitationCreated, int]:
    """Invite a person: creates the user (or re-invites one without a password, voiding the
    old link) and emails a one-time link. Without SMTP, the answer holds the link."""
    return invite(json), 201


def invite(json: schemas.InvitationCreate) -> schemas.InvitationCreated:
    """The rule of inviting (the API's and the admin page's): make or re-invite the user, queue
    the email; 409 when the email belongs to a user who can already sign in."""
    config = settings()
    who = identity().session
    try:
        with transaction() as conn:
            issued, user_created = invitations.invite(
                conn, config.secret_key, config.sessions.invitation_ttl, json.name, json.email,
                json.role, invited_by=who.user_id if who else None,
            )  # fmt: skip
    except invitations.NotInvitable as exc:
        raise Conflict(str(exc), {"field": "email"}) from None
    delivery = link_mail.queue_email(issued.link["id"])
    link = None
    if delivery == "not_configured":
        link = signin_mail.link_url(config, invitations.PURPOSE, issued.token)
    log.info("invitation_created", link_id=issued.link["id"], user_id=issued.link["user_id"],
             user_created=user_created, delivery=delivery)  # fmt: skip
    created: schemas.InvitationCreated = schemas.created(
        {**issued.link, "live": True}, user_created, delivery, link
    )
    return created


@endpoint("/invitations", "GET", "admin", TAG, HTTP_200=schemas.InvitationPage, allow=ADMINS)
def list_invitations(query: PageQuery) -> schemas.InvitationPage:
    """Every invitation, oldest first, with its state (pending, accepted, replaced, …)."""

    def fetch(conn: Conn, after: After, limit: int) -> list[dict[str, Any]]:
        return signin_links.list_links(conn, invitations.PURPOSE, after, limit)

    return listing.oldest_first(query, fetch, schemas.invitation, schemas.InvitationPage)


@endpoint("/invitations/<uuid:invitation_id>", "DELETE", "admin", TAG, HTTP_204=None, allow=ADMINS)
def revoke_invitation(invitation_id: UUID) -> tuple[str, int]:
    """Revoke a pending invitation: its link stops working at once (the user stays)."""
    with transaction() as conn:
        if not signin_links.revoke(conn, str(invitation_id), invitations.PURPOSE):
            raise NotFound(f"no pending invitation with id {invitation_id}")
    log.info("invitation_revoked", link_id=str(invitation_id))
    return "", 204
