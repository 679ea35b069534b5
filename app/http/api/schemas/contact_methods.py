"""Schemas of /api/v1/users/<id>/contact-methods (their addresses: see the addresses module)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas.addresses import Address
from app.http.api.schemas.base import Input, Name, Output, OutTime, Patch

ContactType = Literal["email", "sms", "voice", "webhook", "slack"]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


class ContactMethodCreate(Input):
    name: Name
    type: ContactType
    address: Address = Field(description="per type: email, E.164 number, URL, Slack member id")
    status_updates: StrictBool = Field(False, description="also send acknowledge/close notices")


class ContactMethodPatch(Patch):
    name: Name | SkipJsonSchema[None] = None
    address: Address | SkipJsonSchema[None] = Field(
        None, description="a new address is unverified until its new code is confirmed"
    )
    disabled: StrictBool | SkipJsonSchema[None] = None
    status_updates: StrictBool | SkipJsonSchema[None] = None


class VerifyCode(Input):
    code: Code = Field(description="the code the contact method received")


class ContactMethod(Output):
    id: str
    user_id: str
    name: str
    type: ContactType
    address: str
    verified: bool
    verified_at: OutTime | None
    disabled: bool
    stopped: bool = Field(description="the number replied STOP; nothing is sent until START")
    status_updates: bool
    created_at: OutTime
    updated_at: OutTime


class ContactMethodCreated(ContactMethod):
    signing_secret: str | None = Field(
        description="webhooks: the HMAC key of the signature header, shown only in this response"
    )


class ContactMethodPage(Output):
    items: list[ContactMethod]
    next_cursor: str | None
