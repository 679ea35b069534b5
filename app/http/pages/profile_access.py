"""The profile's ways in: calendar feeds (create: the URL shown once; revoke), the user's own
sessions (sign one out, or every other one) and personal API keys (create with a scope no
wider than the session's: the key shown once; revoke).

Calendar feeds go through app.http.api.schedules.calendar_feeds' shared functions (SELF),
sessions through the domain's own-session functions as /api/v1/me/sessions does, and keys
through KEY_CREATE's rule (app.http.permissions.check_key_create) and KEY_HOLDER's
(may_hold_key). Only personal keys are listed and revoked here: team keys belong to the team.
"""

from __future__ import annotations

from uuid import UUID

import structlog
from flask import Response, request

from app.directory import api_keys, sessions
from app.http.api.routing import transaction
from app.http.api.schedules.calendar_feeds import new_user_feed, revoke_user_feed
from app.http.api.schemas.api_keys import ApiKeyCreate
from app.http.pages.base import Viewer, pages_blueprint, viewer
from app.http.pages.profile_forms import PROFILE, done, form_model, shown_once
from app.http.permissions import EVERYONE, check_key_create, may_hold_key
from app.platform.errors import NotFound

log = structlog.get_logger(__name__)

FEEDS = PROFILE + "/calendar-subscriptions"
SESSIONS = PROFILE + "/sessions"
KEYS = PROFILE + "/api-keys"


def _writer() -> Viewer:
    return viewer(EVERYONE, "write")


@pages_blueprint.post(FEEDS)
def create_user_subscription() -> Response:
    """A new calendar feed of your shifts: its URL, shown this once."""
    who = _writer()
    created = new_user_feed(UUID(who.user_id))
    return shown_once(
        "Calendar feed created",
        "Calendar URL",
        created.url,
        "Subscribe to this URL in your calendar app. Anyone with it sees your shifts, so keep "
        "it private; it is shown only now. Revoke it on your profile if it leaks.",
    )


@pages_blueprint.post(FEEDS + "/<uuid:subscription_id>/revoke")
def revoke_user_subscription(subscription_id: UUID) -> Response:
    """Revoke one of your calendar feeds."""
    revoke_user_feed(UUID(_writer().user_id), subscription_id)
    return done("feed-revoked")


@pages_blueprint.post(SESSIONS + "/<uuid:session_id>/revoke")
def revoke_my_session(session_id: UUID) -> Response:
    """Sign one of your sessions out (this one too, if named: then to the sign-in page)."""
    who = _writer()
    with transaction() as conn:
        if not sessions.revoke_session(conn, who.user_id, str(session_id)):
            raise NotFound(f"you have no live session with id {session_id}")
    return done("session-revoked")


@pages_blueprint.post(SESSIONS + "/revoke-others")
def revoke_other_sessions() -> Response:
    """Sign out everywhere but here."""
    who = _writer()
    live = who.identity.session
    assert live is not None  # a page's viewer is a session
    with transaction() as conn:
        ended = sessions.revoke_user_sessions(conn, who.user_id, keep=live.id)
    log.info("web_sessions_revoked", ended=ended)
    return done("others-revoked")


@pages_blueprint.post(KEYS)
def create_api_key() -> Response:
    """A personal API key (scope no wider than yours): the key, shown this once."""
    who = _writer()
    fields = {k: request.form.get(k, "") for k in ("name", "scope")}
    body = form_model(ApiKeyCreate, {**fields, "owner_user_id": who.user_id})
    check_key_create(who.identity, who.user_id, None, body.scope)
    with transaction() as conn:
        row = api_keys.create_api_key(conn, body.name, body.scope, who.user_id, None)
    return shown_once(
        "API key created",
        "API key",
        row["key"],
        "Send it as `Authorization: Bearer <key>`. It acts as you, with at most its scope, "
        "and is shown only now: store it where secrets belong.",
    )


@pages_blueprint.post(KEYS + "/<uuid:key_id>/revoke")
def revoke_api_key(key_id: UUID) -> Response:
    """Revoke one of your personal API keys."""
    who = _writer()
    with transaction() as conn:
        key = api_keys.get_api_key(conn, str(key_id))
        mine = key is not None and key["owner_user_id"] == who.user_id
        if key is None or not mine or not may_hold_key(who.identity, key):
            raise NotFound(f"you have no API key with id {key_id}")
        api_keys.revoke_api_key(conn, str(key_id))
    return done("key-revoked")
