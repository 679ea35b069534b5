"""Who may change what (README, Teams and permissions): the rule every /api/v1 route states.

Authentication (app.http.auth) settles who is asking and with which scope; the route's rule,
given to `endpoint(..., allow=RULE)`, settles whether that identity may act on this thing:

| rule          | who passes                                                               |
|---------------|--------------------------------------------------------------------------|
| EVERYONE      | anyone authenticated with the route's scope (reads, alert actions, /me)  |
| ADMINS        | admin users and service keys                                             |
| SELF          | the user named by the path's `user_id`, and admins                       |
| TEAM          | admins, and managers of the team owning the thing the path names (a     |
|               | sub-resource follows its parent); no team: admins only                   |
| TEAM_MOVE     | TEAM, and a body `team_id` (a move) must name a team they manage too     |
| TEAM_CREATE   | admins; others must give a body `team_id` of a team they manage          |
| TEAM_MANAGERS | admins, and managers of the path's `team_id` (memberships)               |
| KEY_HOLDER    | the owner of the path's API key (its user, its team's managers), and    |
|               | admins acting with admin scope                                           |
| KEY_CREATE    | a personal key for yourself, a team key for a team you manage, a service |
|               | key by an admin with admin scope; never a wider scope than the creator's |
| USERS         | a person: a signed-in user or a personal key (asking for and taking      |
|               | shift swaps; a team or service key is no one who could be on call)      |
| SWAP_OWNER    | TEAM, and the person who asked for the path's shift swap                 |

A team key counts as a manager of its team. Rules run after authentication and validation,
before the view; a thing that does not exist is a 404 for everyone.
Only TEAM* and KEY* rules read the database (one indexed lookup of the thing, one of the
asker's managed teams), so reads cost nothing more than before.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from flask import current_app, g, request

from app.directory import api_keys, teams
from app.http.auth import Identity
from app.oncall import swaps
from app.platform.errors import Forbidden, NotFound, invalid

Conn = psycopg.Connection[Any]

# Path variable -> (owned table, what the API calls one): the thing a path names, parent first.
OWNED_BY_PATH = {
    "service_id": ("services", "service"),
    "policy_id": ("escalation_policies", "escalation policy"),
    "schedule_id": ("schedules", "schedule"),
    "rotation_id": ("rotations", "rotation"),
    "channel_id": ("notification_channels", "notification channel"),
}


@dataclass(frozen=True)
class Rule:
    """A named permission rule: `check` raises Forbidden (or NotFound) or returns."""

    name: str
    says: str  # who passes, in the OpenAPI document's words
    check: Callable[[Identity], None]
    reads_database: bool = True
    # The path variables the rule reads, one of which the route must have (empty: none).
    path_needs: frozenset[str] = frozenset()

    def fits(self, rule: str) -> bool:
        """Whether a route at `rule` (e.g. /services/<uuid:service_id>) gives what it reads."""
        return not self.path_needs or any(
            re.search(rf"<(?:[^>:]*:)?{name}>", rule) for name in self.path_needs
        )

    def __repr__(self) -> str:
        return self.name


# ---- what an identity manages ------------------------------------------------------------------


def _transaction() -> Any:
    return current_app.extensions["klaxon"].db.transaction()


def managed_teams(who: Identity) -> frozenset[str]:
    """The teams `who` acts as a manager of (a team key: its team), looked up once a request."""
    if who.team_id is not None:
        return frozenset({who.team_id})
    if who.user_id is None:
        return frozenset()
    if "managed_teams" not in g:
        with _transaction() as conn:
            g.managed_teams = teams.managed_team_ids(conn, who.user_id)
    found: frozenset[str] = g.managed_teams
    return found


def may_change(who: Identity, team_id: str | None) -> bool:
    """Whether `who` may change a thing owned by `team_id` (None: by no team)."""
    if who.admin:
        return True
    return team_id is not None and team_id in managed_teams(who)


def full_admin(who: Identity) -> bool:
    """An admin acting with admin scope (what managing everyone's API keys takes)."""
    return who.admin and who.scope == "admin"


# ---- the rules -----------------------------------------------------------------------------------


def _everyone(_who: Identity) -> None:
    return None


def _admins(who: Identity) -> None:
    if not who.admin:
        raise Forbidden("only an admin can do this")


def _self(who: Identity) -> None:
    target = str((request.view_args or {}).get("user_id"))
    if who.admin or (who.user_id is not None and target == who.user_id):
        return
    raise Forbidden(
        "only an admin changes another user's profile, contact methods or notification rules"
    )


def _path_owner() -> tuple[str | None, str]:
    """The team owning the thing the path names, and what that thing is; 404 if it is gone."""
    args = request.view_args or {}
    for variable, (table, what) in OWNED_BY_PATH.items():
        if variable in args:
            with _transaction() as conn:
                exists, owner = teams.owner_of(conn, table, str(args[variable]))
            if not exists:
                raise NotFound(f"no {what} with id {args[variable]}")
            return owner, what
    raise LookupError(f"{request.url_rule} names nothing a team owns")


def _refuse_change(team_id: str | None, what: str) -> Forbidden:
    if team_id is None:
        return Forbidden(f"only an admin changes a {what} that no team owns")
    return Forbidden(f"only an admin or a manager of team {team_id} changes this {what}")


def _team(who: Identity) -> None:
    owner, what = _path_owner()
    if not may_change(who, owner):
        raise _refuse_change(owner, what)


def _body_field(name: str) -> tuple[bool, Any]:
    """(present, value) of a top-level field of the JSON body (already validated against the
    route's schema)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or name not in body:
        return False, None
    return True, body[name]


def _team_id(value: Any) -> str | None:
    """A body's (validated) id field as a canonical id."""
    return None if value is None else str(uuid.UUID(str(value)))


def _existing_team(field: str) -> tuple[bool, str | None]:
    """(present, id) of the team a body field names; a 422 naming the field when there is no
    such team (for everyone: whether a team exists is no secret, teams are listed to all)."""
    present, value = _body_field(field)
    team_id = _team_id(value)
    if team_id is not None:
        with _transaction() as conn:
            if teams.missing_teams(conn, [team_id]):
                raise invalid(field, f"no team with id {team_id}")
    return present, team_id


def _team_move(who: Identity) -> None:
    _team(who)
    present, team_id = _existing_team("team_id")
    if present and not may_change(who, team_id):
        raise Forbidden("moving this to another team takes managing both teams (or an admin)")


def _team_create(who: Identity) -> None:
    _present, team_id = _existing_team("team_id")
    check_team_create(who, team_id)


def check_team_create(who: Identity, team_id: str | None) -> None:
    """TEAM_CREATE's rule for a thing owned by `team_id` (None: no team); the web app's create
    forms apply it to their own field (after checking the team exists)."""
    if not may_change(who, team_id):
        raise Forbidden(
            "give the team_id of a team you manage: only admins create what no team owns"
        )


def check_form_team_create(conn: Conn, who: Identity, team_id: str | None) -> None:
    """TEAM_CREATE for a web app create form's team field, in the form's transaction: a team
    that does not exist is a 422 naming `team_id` (as the API's body check), then
    check_team_create."""
    if team_id is not None and teams.missing_teams(conn, [team_id]):
        raise invalid("team_id", f"no team with id {team_id}")
    check_team_create(who, team_id)


def _team_managers(who: Identity) -> None:
    team_id = str((request.view_args or {}).get("team_id"))
    if who.admin:
        return
    if team_id not in managed_teams(who):
        with _transaction() as conn:
            if teams.get_team(conn, team_id) is None:
                raise NotFound(f"no team with id {team_id}")
        raise Forbidden(f"only an admin or a manager of team {team_id} changes its members")


def may_hold_key(who: Identity, key: dict[str, Any]) -> bool:
    """Whether `who` may see and revoke this API key."""
    if full_admin(who):
        return True
    if key["owner_user_id"] is not None:
        return key["owner_user_id"] == who.user_id
    return key["owner_team_id"] is not None and key["owner_team_id"] in managed_teams(who)


def _key_holder(who: Identity) -> None:
    key_id = str((request.view_args or {}).get("key_id"))
    with _transaction() as conn:
        key = api_keys.get_api_key(conn, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}")
    if not may_hold_key(who, key):
        raise Forbidden("only its owner (its user, its team's managers) or an admin sees this key")


def _key_create(who: Identity) -> None:
    _, user = _body_field("owner_user_id")
    _, team = _existing_team("owner_team_id")
    _, scope = _body_field("scope")
    check_key_create(who, None if user is None else _team_id(user), team, scope)


def check_key_create(who: Identity, user: str | None, team: str | None, scope: Any) -> None:
    """KEY_CREATE's rule for a key of owner `user` or `team` (or neither) and `scope`; the
    web app's key form applies it to its own fields."""
    if user is not None and user != who.user_id:
        raise Forbidden("a personal key is made by its own user")
    if team is not None and not (who.admin or team in managed_teams(who)):
        raise Forbidden("a team key is made by an admin or a manager of that team")
    if user is None and team is None and not full_admin(who):
        raise Forbidden("a service key (no owner) is made by an admin acting with admin scope")
    if scope in api_keys.SCOPES and not api_keys.scope_allows(who.scope, scope):
        raise Forbidden(f"you act with scope {who.scope!r}: a new key cannot have {scope!r}")


def _users(who: Identity) -> None:
    if who.user_id is None:
        raise Forbidden(
            "only a person asks for or takes cover: sign in, or use a personal API key "
            "(a team or service key has no user)"
        )


def _swap_owner(who: Identity) -> None:
    owner, what = _path_owner()
    if may_change(who, owner):
        return
    if who.user_id is None:
        raise _refuse_change(owner, what)
    args = request.view_args or {}
    with _transaction() as conn:
        swap = swaps.get_swap(conn, str(args.get("schedule_id")), str(args.get("swap_id")))
    if swap is None:
        raise NotFound(f"no shift swap with id {args.get('swap_id')}")
    if swap["requester_id"] != who.user_id:
        raise Forbidden(
            "only the person who asked for cover, an admin or a manager of the schedule's team "
            "withdraws it"
        )


EVERYONE = Rule("EVERYONE", "anyone signed in, or any key", _everyone, reads_database=False)
ADMINS = Rule("ADMINS", "admins (admin users, service keys)", _admins, reads_database=False)
SELF = Rule("SELF", "the user themselves, or an admin", _self, False, frozenset({"user_id"}))
TEAM = Rule(
    "TEAM", "admins, or managers of the team that owns it", _team, True, frozenset(OWNED_BY_PATH)
)
TEAM_MOVE = Rule(
    "TEAM_MOVE",
    "admins, or managers of the team that owns it; a move (team_id) takes managing both teams",
    _team_move,
    True,
    frozenset(OWNED_BY_PATH),
)
TEAM_CREATE = Rule(
    "TEAM_CREATE", "admins; anyone else gives the team_id of a team they manage", _team_create
)
TEAM_MANAGERS = Rule(
    "TEAM_MANAGERS",
    "admins, or managers of this team",
    _team_managers,
    True,
    frozenset({"team_id"}),
)
KEY_HOLDER = Rule(
    "KEY_HOLDER",
    "the key's owner (its user, or its team's managers), or an admin acting with admin scope",
    _key_holder,
    True,
    frozenset({"key_id"}),
)
KEY_CREATE = Rule(
    "KEY_CREATE",
    "personal keys by their own user, team keys by the team's managers or admins, service keys "
    "by admins acting with admin scope; never a wider scope than the creator's",
    _key_create,
)
USERS = Rule(
    "USERS", "a person: signed in, or with a personal API key", _users, reads_database=False
)
SWAP_OWNER = Rule(
    "SWAP_OWNER",
    "the person who asked for the swap, admins, or managers of the team that owns the schedule",
    _swap_owner,
    True,
    frozenset({"swap_id"}),
)
