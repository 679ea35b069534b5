"""The administration home and its users page: `/admin` (to /admin/users) and `/admin/users`
(every user with their role, teams, last sign-in and status; pending invitations).

An admin changes a user's role, disables or enables them, signs them out everywhere or deletes
them, through the API's own functions (app.http.api.users.change_user: the same validation and
admin-scope rule as PATCH /api/v1/users/<id>); invites a person by email with the API's own
`invite` (the user is made and a worker emails the link; without SMTP the link is shown once);
and revokes a pending invitation, as DELETE /api/v1/invitations/<id> does.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Response, redirect, request

from app.directory import invitations, sessions, signin_links, teams, users
from app.http.api.invitations import invite
from app.http.api.parents import require_user
from app.http.api.routing import NotFound, transaction
from app.http.api.schemas.invitations import InvitationCreate, invitation_state
from app.http.api.schemas.users import UserPatch
from app.http.api.users import change_user
from app.http.pages.admin_base import ADMIN, admin, admin_page, done
from app.http.pages.base import pages_blueprint
from app.http.pages.profile_forms import form_model, shown_once

USERS = ADMIN + "/users"
USER = USERS + "/<uuid:user_id>"
MAX_USERS = 500  # users the page lists (oldest first)
MAX_INVITATIONS = 500  # invitations read to find the pending ones
ROLES = ("user", "admin")


@pages_blueprint.get(ADMIN)
@pages_blueprint.get(ADMIN + "/")
def admin_home() -> Response:
    """The administration home: its first page, the users."""
    admin()
    return redirect(USERS, code=303)  # type: ignore[return-value]


@pages_blueprint.get(USERS)
def admin_users() -> Response:
    """Every user (bounded), and the invitations still pending."""
    who = admin()
    with transaction() as conn:
        rows = users.list_users(conn, None, MAX_USERS)
        ids = [row["id"] for row in rows]
        memberships = teams.teams_of_users(conn, ids)
        last_seen = sessions.last_sign_ins(conn, ids)
        links = signin_links.list_links(conn, invitations.PURPOSE, None, MAX_INVITATIONS)
    pending = [link for link in links if invitation_state(link) == "pending"]
    return admin_page(
        "pages/admin_users.html", "users", "Users",
        users=rows, memberships=memberships, last_seen=last_seen, pending=pending,
        invited={link["user_id"] for link in pending},
        roles=ROLES, me=who.user_id, truncated=len(rows) == MAX_USERS,
    )  # fmt: skip


def _change(user_id: UUID, changes: dict[str, Any], notice: str) -> Response:
    """A change to a user, validated by PATCH /api/v1/users' own schema and rule."""
    admin()
    change_user(user_id, form_model(UserPatch, changes).changes())
    return done(USERS, notice, f"#user-{user_id}")


@pages_blueprint.post(USER + "/role")
def set_user_role(user_id: UUID) -> Response:
    """Make a user an admin, or an admin a user."""
    return _change(user_id, {"role": request.form.get("role", "")}, "role")


@pages_blueprint.post(USER + "/disable")
def disable_user(user_id: UUID) -> Response:
    """Disable a user: every session of theirs ends and they cannot sign in."""
    return _change(user_id, {"disabled": True}, "disabled")


@pages_blueprint.post(USER + "/enable")
def enable_user(user_id: UUID) -> Response:
    """Let a disabled user sign in again."""
    return _change(user_id, {"disabled": False}, "enabled")


@pages_blueprint.post(USER + "/delete")
def delete_user(user_id: UUID) -> Response:
    """Delete a user (as DELETE /api/v1/users/<id>)."""
    admin()
    with transaction() as conn:
        if not users.delete_user(conn, str(user_id)):
            raise NotFound(f"no user with id {user_id}")
    return done(USERS, "deleted")


@pages_blueprint.post(USER + "/sessions/revoke")
def revoke_user_sessions(user_id: UUID) -> Response:
    """Sign a user out everywhere (as POST /api/v1/users/<id>/sessions/revoke)."""
    admin()
    with transaction() as conn:
        require_user(conn, user_id)
        sessions.revoke_user_sessions(conn, str(user_id))
    return done(USERS, "signed-out", f"#user-{user_id}")


@pages_blueprint.post(ADMIN + "/invitations")
def create_invitation() -> Response:
    """Invite a person by email: the worker sends the link (without SMTP it is shown once)."""
    admin()
    fields = {k: request.form.get(k, "") for k in ("name", "email", "role")}
    created = invite(form_model(InvitationCreate, fields))
    if created.link is not None:
        return shown_once(
            "Invitation created",
            "Invitation link",
            created.link,
            f"SMTP is not configured, so no email was sent: pass this link to {created.email} "
            "yourself. It is shown only now and works once.",
            back=USERS,
        )
    return done(USERS, "invited" if created.delivery == "queued" else "invite-not-queued")


@pages_blueprint.post(ADMIN + "/invitations/<uuid:invitation_id>/revoke")
def revoke_invitation(invitation_id: UUID) -> Response:
    """Revoke a pending invitation: its link stops working (the user stays)."""
    admin()
    with transaction() as conn:
        if not signin_links.revoke(conn, str(invitation_id), invitations.PURPOSE):
            raise NotFound(f"no pending invitation with id {invitation_id}")
    return done(USERS, "invitation-revoked", "#invitations")
