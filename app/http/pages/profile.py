"""The profile page (`/profile`): the signed-in user's own name, email and time zone, contact
methods, notification rules, calendar feeds, sessions and personal API keys (README, Web app).

A person sees and changes only their own profile: no route here names a user, every one acts
on the session's user, through the same shared functions and permission rules as
/api/v1/users/<id>/… (SELF) and /api/v1/api-keys (KEY_CREATE, KEY_HOLDER). Actions are POST
forms with the CSRF token that redirect back here with a notice (post/redirect/get), except
those whose answer holds a secret shown once (a calendar URL, an API key, a webhook's signing
secret): they answer with that page directly, so the secret is never in a URL or history.
The forms: app.http.pages.profile_contacts and app.http.pages.profile_access; what they
share (validation, the notice, the shown-once page): app.http.pages.profile_forms.
"""

from __future__ import annotations

import zoneinfo
from uuid import UUID

from flask import Response, request

from app.contacts import contact_methods, notification_rules
from app.directory import api_keys, sessions, users
from app.http.api.routing import transaction
from app.http.api.schemas.users import UserPatch
from app.http.api.users import change_user
from app.http.pages.base import page, pages_blueprint, viewer
from app.http.pages.profile_forms import NOTICES, PROFILE, done, form_model
from app.http.permissions import EVERYONE
from app.oncall import calendar_subscriptions
from app.platform.errors import NotFound

MAX_LISTED = 100  # rows of each kind the page lists (a person has a handful)
ZONES = tuple(sorted(zoneinfo.available_timezones()))


@pages_blueprint.get(PROFILE)
def profile_page() -> Response:
    """The signed-in user's profile."""
    who = viewer(EVERYONE)
    with transaction() as conn:
        user = users.get_user(conn, who.user_id)
        if user is None:
            raise NotFound("your user no longer exists")
        methods = contact_methods.list_contact_methods(conn, who.user_id, None, MAX_LISTED)
        rules = notification_rules.list_rules(conn, who.user_id, None, MAX_LISTED)
        feeds = calendar_subscriptions.list_subscriptions(
            conn, "user_id", who.user_id, None, MAX_LISTED
        )
        live = sessions.list_sessions(conn, who.user_id, None, MAX_LISTED)
        keys = api_keys.list_api_keys(conn, None, MAX_LISTED, (who.user_id, frozenset()))
    return page(
        "pages/profile.html",
        title="Your profile",
        user=user,
        zones=ZONES,
        methods=methods,
        method_names={str(m["id"]): m["name"] for m in methods},
        rules=rules,
        feeds=feeds,
        live_sessions=live,
        this_session=who.identity.session.id if who.identity.session else None,
        keys=[k for k in keys if k["owner_user_id"] == who.user_id],
        scopes=[s for s in api_keys.SCOPES if api_keys.scope_allows(who.identity.scope, s)],
        notice=NOTICES.get(request.args.get("done", ""), ""),
    )


@pages_blueprint.post(PROFILE)
def update_user() -> Response:
    """Save the name, email and time zone (the API's UserPatch and rule)."""
    who = viewer(EVERYONE, "write")
    fields = {k: request.form.get(k, "") for k in ("name", "email", "time_zone")}
    changes = form_model(UserPatch, fields).changes()
    change_user(UUID(who.user_id), changes)
    return done("details")
