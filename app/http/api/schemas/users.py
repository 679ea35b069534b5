"""Schemas of /api/v1/users."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, StringConstraints, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.base import Input, Name, Output, OutTime, Patch, TimeZone, one_line
from app.http.api.schemas.teams import UserTeam

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"


def _email(value: str) -> str:
    """One line with an @ between two non-empty parts (the pattern the schema documents)."""
    if not re.fullmatch(EMAIL_PATTERN, value):
        raise ValueError("must be an email address like name@example.com")
    return one_line(value)


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=320),
    AfterValidator(_email),
    WithJsonSchema({"type": "string", "minLength": 3, "maxLength": 320, "pattern": EMAIL_PATTERN}),
]
Role = Literal["admin", "user"]


class UserCreate(Input):
    name: Name
    email: Email
    role: Role = "user"
    time_zone: TimeZone = "UTC"


class UserPatch(Patch):
    name: Name | SkipJsonSchema[None] = None
    email: Email | SkipJsonSchema[None] = None
    role: Role | SkipJsonSchema[None] = None
    time_zone: TimeZone | SkipJsonSchema[None] = None
    disabled: StrictBool | SkipJsonSchema[None] = Field(
        None, description="admins only: true signs the user out everywhere and keeps them out"
    )


class User(Output):
    id: str
    name: str
    email: str
    role: Role
    time_zone: str
    disabled_at: OutTime | None
    created_at: OutTime
    updated_at: OutTime


class UserWithTeams(User):
    """A user with the teams they belong to, and their role in each."""

    teams: list[UserTeam]


class UserPage(Output):
    items: list[User]
    next_cursor: str | None
