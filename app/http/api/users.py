"""/api/v1/users: the people Klaxon pages."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.directory import teams, users
from app.http.api import listing
from app.http.api.routing import NotFound, endpoint, transaction
from app.http.api.schemas.base import PageQuery
from app.http.api.schemas.users import User, UserCreate, UserPage, UserPatch, UserWithTeams
from app.http.auth import require_admin_for
from app.http.permissions import ADMINS, SELF

TAG = "users"


def _user_or_404(row: dict[str, object] | None, user_id: UUID) -> User:
    if row is None:
        raise NotFound(f"no user with id {user_id}")
    return User.model_validate(row)


@endpoint("/users", "GET", "read", TAG, HTTP_200=UserPage)
def list_users(query: PageQuery) -> UserPage:
    """List users, oldest first."""
    return listing.oldest_first(query, users.list_users, User.model_validate, UserPage)


@endpoint("/users", "POST", "write", TAG, HTTP_201=User, allow=ADMINS)
def create_user(json: UserCreate) -> tuple[User, int]:
    """Create a user; the email must be unique (case-insensitively)."""
    require_admin_for("sets a user's role" if json.role != "user" else None)
    with transaction() as conn:
        row = users.create_user(conn, json.name, json.email, json.role, json.time_zone)
    return User.model_validate(row), 201


@endpoint("/users/<uuid:user_id>", "GET", "read", TAG, HTTP_200=UserWithTeams)
def get_user(user_id: UUID) -> UserWithTeams:
    """Get one user, with the teams they belong to and their role in each."""
    with transaction() as conn:
        row = users.get_user(conn, str(user_id))
        if row is None:
            raise NotFound(f"no user with id {user_id}")
        return UserWithTeams.model_validate({**row, "teams": teams.user_teams(conn, str(user_id))})


@endpoint("/users/<uuid:user_id>", "PATCH", "write", TAG, HTTP_200=User, allow=SELF)
def update_user(user_id: UUID, json: UserPatch) -> User:
    """Change a user's name, email, role or time zone."""
    return change_user(user_id, json.changes())


def change_user(user_id: UUID, changes: dict[str, Any]) -> User:
    """The rule of changing a user (`changes`: a validated UserPatch's)."""
    require_admin_for("sets a user's role" if "role" in changes else None)
    require_admin_for("disables or enables a user" if "disabled" in changes else None)
    with transaction() as conn:
        row = users.update_user(conn, str(user_id), changes)
    return _user_or_404(row, user_id)


@endpoint("/users/<uuid:user_id>", "DELETE", "write", TAG, HTTP_204=None, allow=ADMINS)
def delete_user(user_id: UUID) -> tuple[str, int]:
    """Delete a user."""
    with transaction() as conn:
        if not users.delete_user(conn, str(user_id)):
            raise NotFound(f"no user with id {user_id}")
    return "", 204
