"""What the administration pages (/admin/...) share: the admin viewer, their sub-navigation's
sections, and going back to a page with a notice after a form.

Every admin page and form takes the API's ADMINS rule with admin scope (what a signed-in admin
acts with; GET /api/v1/invitations and /audit need it too): a non-admin gets the 403 page, a
browser without a session the sign-in page (app.http.admin lets these pages through its own
gate for exactly that).
"""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, request

from app.http.pages.base import Viewer, page, viewer
from app.http.permissions import ADMINS

ADMIN = "/admin"
# The sub-navigation (pages/_admin_nav.html): (section, label, path).
SECTIONS = (
    ("users", "Users", "/admin/users"),
    ("teams", "Teams", "/admin/teams"),
    ("keys", "API keys", "/admin/api-keys"),
    ("audit", "Audit log", "/admin/audit"),
    ("system", "System", "/admin/system"),
)
DASHBOARD = "/admin/rq/"

# The notices a form may leave (a fixed word in the URL, never text from the request).
NOTICES = {
    "role": "Role changed.",
    "disabled": "User disabled: signed out everywhere and kept out.",
    "enabled": "User enabled.",
    "deleted": "User deleted.",
    "signed-out": "Signed out everywhere.",
    "invited": "Invitation sent: a worker emails the link.",
    "invite-not-queued": "The invitation was made but its email could not be queued (Redis is "
    "unavailable): invite again.",
    "invitation-revoked": "Invitation revoked: its link no longer works.",
    "team-created": "Team created.",
    "team-renamed": "Team saved.",
    "team-deleted": "Team deleted.",
    "member-added": "Member added.",
    "member-role": "Member's role changed.",
    "member-removed": "Member removed.",
    "key-revoked": "API key revoked: requests carrying it are refused from now on.",
}


def admin(scope: str = "admin") -> Viewer:
    """The signed-in admin looking at (or acting on) an admin page; 403 page for anyone else."""
    return viewer(ADMINS, scope)


def admin_page(template: str, section: str, title: str, **context: Any) -> Response:
    """An admin page: its sub-navigation marks `section`; `?done=` shows its notice."""
    return page(
        template,
        title=title,
        section=section,
        sections=SECTIONS,
        dashboard=DASHBOARD,
        notice=NOTICES.get(request.args.get("done", ""), ""),
        **context,
    )


def done(path: str, notice: str, anchor: str = "") -> Response:
    """Back to `path` with a notice (303: a reload repeats nothing)."""
    return redirect(f"{path}?done={notice}{anchor}", code=303)  # type: ignore[return-value]
