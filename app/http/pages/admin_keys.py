"""The API keys page of the administration: `/admin/api-keys` (every key, revoked ones too, with
its owner, scope, creation and last use), revoking any of them (as DELETE /api/v1/api-keys/<id>
by an admin with admin scope) and creating a service key (no owner; KEY_CREATE's rule), whose
secret the list shows once after the redirect, as the service page shows a new integration key
(app.http.pages.one_showing): a reload shows it no more and creates nothing.
"""

from __future__ import annotations

from uuid import UUID

from flask import Response, redirect, request

from app.directory import api_keys, teams, users
from app.http.api.routing import NotFound, transaction
from app.http.api.schemas.api_keys import ApiKeyCreate
from app.http.pages import one_showing
from app.http.pages.admin_base import ADMIN, admin, admin_page, done
from app.http.pages.base import pages_blueprint
from app.http.pages.profile_forms import form_model
from app.http.permissions import check_key_create

KEYS = ADMIN + "/api-keys"
MAX_KEYS = 500  # keys the page lists (newest first)
MAX_TEAM_NAMES = 1000  # teams read to name team keys' owners
NEW_KEY = "service-api-key"  # what a new key is kept as for its one showing (one_showing)


@pages_blueprint.get(KEYS)
def admin_api_keys() -> Response:
    """Every API key (bounded), newest first, with its owner named."""
    who = admin()
    new_key = one_showing.take(NEW_KEY, who.user_id, request.args.get("key", ""))
    with transaction() as conn:
        rows = api_keys.list_api_keys(conn, None, MAX_KEYS)
        owners = users.user_names(conn, {r["owner_user_id"] for r in rows if r["owner_user_id"]})
        team_names = {t["id"]: t["name"] for t in teams.list_teams(conn, None, MAX_TEAM_NAMES)}
    rows.reverse()
    return admin_page(
        "pages/admin_keys.html", "keys", "API keys",
        keys=rows, owners=owners, team_names=team_names, scopes=api_keys.SCOPES,
        truncated=len(rows) == MAX_KEYS, new_key=new_key,
    )  # fmt: skip


@pages_blueprint.post(KEYS)
def create_service_key() -> Response:
    """A service key (acts like an admin within its scope), then the list showing it once."""
    who = admin()
    fields = {k: request.form.get(k, "") for k in ("name", "scope")}
    body = form_model(ApiKeyCreate, fields)
    check_key_create(who.identity, None, None, body.scope)
    with transaction() as conn:
        row = api_keys.create_api_key(conn, body.name, body.scope, None, None)
        shown = {"id": row["id"], "name": row["name"], "scope": row["scope"], "key": row["key"]}
        nonce = one_showing.keep(NEW_KEY, who.user_id, shown)  # before the commit
    return redirect(f"{KEYS}?key={nonce}", code=303)  # type: ignore[return-value]


@pages_blueprint.post(KEYS + "/<uuid:key_id>/revoke")
def revoke_any_api_key(key_id: UUID) -> Response:
    """Revoke any API key: requests carrying it are refused from now on."""
    admin()
    with transaction() as conn:
        if not api_keys.revoke_api_key(conn, str(key_id)):
            raise NotFound(f"no API key with id {key_id}")
    return done(KEYS, "key-revoked", f"#key-{key_id}")
