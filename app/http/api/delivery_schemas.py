"""Schemas of the delivery API: contact methods, notification rules, channels, escalation
policies, the message log and a service's on-call answer.

Addresses are checked per type in the views (`check_address`), because which rule applies
depends on the `type` of the method or channel, which a PATCH does not carry.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from app.http.api.schemas import (
    Description,
    Id,
    Input,
    Name,
    Output,
    OutTime,
    PageQuery,
    Patch,
    Query,
    Time,
    _one_line,
)
from app.http.api.validation import FieldProblem
from app.platform.errors import invalid  # also imported from here by channels and contact_methods

MAX_STEPS = 20  # steps in one policy: an escalation chain, not a directory
MAX_TARGETS = 20  # targets in one step
MAX_DELAY = 10080  # minutes: one week

ContactType = Literal["email", "sms", "voice", "webhook", "slack"]
ChannelType = Literal["webhook", "slack"]
TargetType = Literal["user", "schedule", "rotation", "channel"]
MessageKind = Literal["alert", "status_update", "verification", "test", "oncall_notice"]
MessageStatus = Literal["pending", "sending", "sent", "delivered", "failed"]
Address = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048),
    AfterValidator(_one_line),
]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
SLACK_MEMBER = re.compile(r"[UW][A-Z0-9]{2,20}")
SLACK_CHANNEL = re.compile(r"[CG][A-Z0-9]{2,20}|#[a-z0-9._-]{1,80}")

# What each address type must look like, as a user reads it in an error.
EXPECTED = {
    "email": "an email address, e.g. oncall@example.com",
    "sms": "an E.164 phone number: + and 7 to 15 digits, e.g. +15551234567",
    "voice": "an E.164 phone number: + and 7 to 15 digits, e.g. +15551234567",
    "webhook": "an http:// or https:// URL with a host",
    "slack": "a Slack member id, e.g. U012AB3CD",
    "slack_channel": "a Slack channel id (e.g. C012AB3CD) or #channel-name",
}


def _url_ok(address: str) -> bool:
    try:
        parts = urlsplit(address)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in address
    except ValueError:
        return False


def _is_email(address: str) -> bool:
    """`local@domain`, no blanks, a dot inside the domain, in one pass: the pattern it replaces
    (`[^@\\s]+@[^@\\s]+\\.[^@\\s]+`) backtracked quadratically over a domain of dots."""
    local, _, domain = address.partition("@")
    return (
        bool(local)
        and "@" not in domain
        and "." in domain[1:-1]
        and not any(map(str.isspace, address))
    )


def check_address(kind: str, address: str, field: str = "address") -> None:
    """Raise a 422 naming `field` unless `address` suits destination type `kind`
    (`slack_channel` for a channel's Slack address)."""
    ok = {
        "email": lambda: _is_email(address),
        "sms": lambda: bool(E164.fullmatch(address)),
        "voice": lambda: bool(E164.fullmatch(address)),
        "webhook": lambda: _url_ok(address),
        "slack": lambda: bool(SLACK_MEMBER.fullmatch(address)),
        "slack_channel": lambda: bool(SLACK_CHANNEL.fullmatch(address)),
    }[kind]()
    if not ok:
        raise invalid(field, f"must be {EXPECTED[kind]}")


# ---- contact methods ---------------------------------------------------------------------------


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


class MessageQueued(Output):
    message_id: Id = Field(description="see GET /messages/<id>")


# ---- notification rules ------------------------------------------------------------------------


class NotificationRuleCreate(Input):
    contact_method_id: UUID = Field(description="one of this user's contact methods")
    delay_minutes: StrictInt = Field(ge=0, le=MAX_DELAY, description="after the user is engaged")


class NotificationRule(Output):
    id: str
    user_id: str
    contact_method_id: str
    delay_minutes: int
    created_at: OutTime


class NotificationRulePage(Output):
    items: list[NotificationRule]
    next_cursor: str | None


# ---- notification channels ---------------------------------------------------------------------


class ChannelCreate(Input):
    name: Name
    type: ChannelType
    address: Address = Field(description="webhook URL, or Slack channel id / #name")
    status_updates: StrictBool = Field(True, description="also post acknowledge/close notices")


class ChannelPatch(Patch):
    name: Name | SkipJsonSchema[None] = None
    address: Address | SkipJsonSchema[None] = None
    status_updates: StrictBool | SkipJsonSchema[None] = None


class Channel(Output):
    id: str
    name: str
    type: ChannelType
    address: str
    status_updates: bool
    created_at: OutTime
    updated_at: OutTime


class ChannelCreated(Channel):
    signing_secret: str | None = Field(
        description="webhooks: the HMAC key of the signature header, shown only in this response"
    )


class ChannelPage(Output):
    items: list[Channel]
    next_cursor: str | None


# ---- escalation policies -----------------------------------------------------------------------


class TargetIn(Input):
    type: TargetType
    id: UUID


class StepIn(Input):
    delay_minutes: StrictInt = Field(
        ge=1, le=MAX_DELAY, description="minutes from this step firing to the next one"
    )
    targets: list[TargetIn] = Field(min_length=1, max_length=MAX_TARGETS)

    @model_validator(mode="after")
    def _distinct(self) -> StepIn:
        seen = {(t.type, t.id) for t in self.targets}
        if len(seen) != len(self.targets):
            raise FieldProblem("targets", "must not repeat within a step")
        return self


Steps = Annotated[list[StepIn], Field(max_length=MAX_STEPS, description="in firing order")]
RepeatCount = Annotated[
    StrictInt,
    Field(ge=0, le=20, description="how many more times the steps run after the first pass"),
]


class PolicyCreate(Input):
    name: Name
    description: Description = ""
    repeat_count: RepeatCount = 0
    steps: Steps = []


class PolicyPatch(Patch):
    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    repeat_count: RepeatCount | SkipJsonSchema[None] = None
    steps: Steps | SkipJsonSchema[None] = Field(None, description="replaces every step")


class Target(Output):
    type: TargetType
    id: str
    name: str


class Step(Output):
    id: str
    position: int
    delay_minutes: int
    targets: list[Target]


class Policy(Output):
    id: str
    name: str
    description: str
    repeat_count: int
    steps: list[Step]
    created_at: OutTime
    updated_at: OutTime


class PolicyPage(Output):
    items: list[Policy]
    next_cursor: str | None


# ---- message log -------------------------------------------------------------------------------


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


# ---- who is on call for a service --------------------------------------------------------------


class AtQuery(Query):
    at: Time | SkipJsonSchema[None] = Field(None, description="the instant (default: now)")


class OnCallUser(Output):
    id: str
    name: str


class OnCallTarget(Output):
    type: TargetType
    id: str
    name: str
    users: list[OnCallUser] = Field(description="on call through this target (channels: none)")


class OnCallStep(Output):
    id: str
    position: int
    delay_minutes: int
    targets: list[OnCallTarget]


class ServiceOnCall(Output):
    service_id: str
    at: OutTime
    escalation_policy_id: str | None
    escalation_policy_name: str | None
    steps: list[OnCallStep]


def dump(model: Any) -> dict[str, Any]:
    """A model's fields as given (for PATCH bodies), keeping UUIDs as text."""
    return {k: (str(v) if isinstance(v, UUID) else v) for k, v in model.changes().items()}
