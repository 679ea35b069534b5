"""Schemas of /api/v1/teams and their members."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from app.directory import teams
from app.http.api.schemas.base import Description, Input, Name, Output, OutTime, Patch

TeamRole = Literal["member", "manager"]

assert teams.ROLES == ("member", "manager")


class TeamCreate(Input):
    name: Name
    description: Description = ""


class TeamPatch(Patch):
    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None


class Team(Output):
    id: str
    name: str
    description: str
    created_at: OutTime
    updated_at: OutTime


class TeamPage(Output):
    items: list[Team]
    next_cursor: str | None


class MemberCreate(Input):
    user_id: uuid.UUID
    role: TeamRole = Field("member", description="a manager changes what the team owns")


class MemberPatch(Input):
    role: TeamRole


class Member(Output):
    team_id: str
    user_id: str
    role: TeamRole
    name: str | None = None
    email: str | None = None
    created_at: OutTime


class MemberPage(Output):
    items: list[Member]
    next_cursor: str | None


class UserTeam(Output):
    """A team a user belongs to, and their role in it."""

    id: str
    name: str
    role: TeamRole
