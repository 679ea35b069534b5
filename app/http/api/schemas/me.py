"""/api/v1/me: who is asking, and a password change."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.directory import passwords
from app.http.api.schemas.api_keys import Scope
from app.http.api.schemas.base import Input, Output
from app.http.api.schemas.sessions import Session
from app.http.api.schemas.users import UserWithTeams

Password = Annotated[str, StringConstraints(min_length=1, max_length=passwords.MAX_LENGTH)]


class KeyIdentity(Output):
    id: str
    name: str
    scope: Scope
    owner_user_id: str | None = Field(None, description="a personal key's user")
    owner_team_id: str | None = Field(None, description="a team key's team")


class Me(Output):
    """The identity of this request and what it may do."""

    kind: Literal["user", "api_key"]
    scope: Scope = Field(
        description="an admin user acts with admin, other users with write; a key with the "
        "smaller of its scope and its owner's"
    )
    user: UserWithTeams | None = Field(
        description="the signed-in user (kind user), or a personal key's user"
    )
    api_key: KeyIdentity | None = Field(description="the key (kind api_key)")
    session: Session | None = Field(description="this request's session (kind user)")
    csrf_token: str | None = Field(
        description="send it as X-CSRF-Token with every state-changing request made with the "
        "session cookie (kind user)"
    )


class PasswordChange(Input):
    current_password: Password = Field(examples=["correct horse battery staple"])
    new_password: Annotated[
        str,
        StringConstraints(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH),
    ] = Field(examples=["a new passphrase, 8 characters or more"])
