"""Schemas of /api/v1/notification-channels (their addresses: app.http.api.schemas.addresses)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field, StrictBool
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.addresses import Address
from app.http.api.schemas.base import Input, Name, Output, OutTime, Patch

ChannelType = Literal["webhook", "slack"]


class ChannelCreate(Input):
    name: Name
    type: ChannelType
    address: Address = Field(description="webhook URL, or Slack channel id / #name")
    status_updates: StrictBool = Field(True, description="also post acknowledge/close notices")
    team_id: uuid.UUID | None = Field(
        None, description="the owning team: its managers change this (only admins may omit it)"
    )


class ChannelPatch(Patch):
    NULLABLE = frozenset({"team_id"})

    name: Name | SkipJsonSchema[None] = None
    address: Address | SkipJsonSchema[None] = None
    status_updates: StrictBool | SkipJsonSchema[None] = None
    team_id: uuid.UUID | None = Field(
        None, description="move to another team (managing both); null: no team (admins only)"
    )


class Channel(Output):
    id: str
    name: str
    type: ChannelType
    address: str
    status_updates: bool
    created_at: OutTime
    updated_at: OutTime
    team_id: str | None = Field(description="the owning team (null: no team, admins only)")


class ChannelCreated(Channel):
    signing_secret: str | None = Field(
        description="webhooks: the HMAC key of the signature header, shown only in this response"
    )


class ChannelPage(Output):
    items: list[Channel]
    next_cursor: str | None
