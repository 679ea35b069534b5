"""Schemas of /api/v1/messages (the message log), and the answer of a request that queues one."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.base import Id, Output, OutTime, PageQuery, Time
from app.http.api.schemas.contact_methods import ContactType

MessageKind = Literal[
    "alert", "status_update", "verification", "test", "oncall_notice", "shift_swap"
]
MessageStatus = Literal["pending", "sending", "sent", "delivered", "failed"]


class MessageQueued(Output):
    message_id: Id = Field(description="see GET /messages/<id>")


class MessageQuery(PageQuery):
    status: MessageStatus | SkipJsonSchema[None] = None
    kind: MessageKind | SkipJsonSchema[None] = None
    alert_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | SkipJsonSchema[None] = None
    user_id: UUID | SkipJsonSchema[None] = None
    contact_method_id: UUID | SkipJsonSchema[None] = None
    channel_id: UUID | SkipJsonSchema[None] = None
    since: Time | SkipJsonSchema[None] = Field(None, description="created at or after this time")
    until: Time | SkipJsonSchema[None] = Field(None, description="created before this time")


class Message(Output):
    id: Id
    kind: MessageKind
    status: MessageStatus
    dest_type: ContactType
    provider: str
    contact_method_id: str | None
    channel_id: str | None
    user_id: str | None
    alert_id: Id | None
    schedule_id: str | None
    attempts: int
    max_attempts: int
    provider_message_id: str | None
    last_error: str | None
    not_before: OutTime
    created_at: OutTime
    updated_at: OutTime
    sent_at: OutTime | None
    delivered_at: OutTime | None
    failed_at: OutTime | None


class MessageEvent(Output):
    status: MessageStatus
    attempt: int
    error: str | None
    provider_message_id: str | None
    at: OutTime


class MessageWithHistory(Message):
    history: list[MessageEvent] = Field(description="every status it passed through, oldest first")


class MessagePage(Output):
    items: list[Message]
    next_cursor: str | None
