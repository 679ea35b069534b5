"""The /api/v1 schemas: the same pydantic models validate requests and become the OpenAPI document.

Inputs are strict (unknown fields are rejected, text may not carry NUL or lone surrogates, times
need an offset and are stored as UTC); outputs use string ids and RFC 3339 UTC times (`…Z`).
"""

from __future__ import annotations

import functools
import re
import uuid
import zoneinfo
from datetime import UTC, datetime, time
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from app.alerts.store import STATUSES
from app.directory import api_keys, integration_keys
from app.http.api.validation import TIME_MEANING, TIME_OF_DAY_MEANING

MAX_PAGE = 200  # items per page at most: one page must stay a quick query and a small response
DEFAULT_PAGE = 50
MAX_SEARCH = 200  # characters of an alert text search
# Times outside this range are refused: Postgres would store them, but a far-past time in a
# far-west offset reads back as a BC date that Python cannot represent.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


# ---- input types -------------------------------------------------------------------------------


def _storable(value: str) -> str:
    """Text Postgres can store: no NUL characters, valid UTF-8 (no lone surrogates)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _one_line(value: str) -> str:
    """Storable text without control characters (names, emails)."""
    _storable(value)
    if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in value):
        raise ValueError("must not contain control characters or line breaks")
    return value


EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"


def _email(value: str) -> str:
    """One line with an @ between two non-empty parts (the pattern the schema documents)."""
    if not re.fullmatch(EMAIL_PATTERN, value):
        raise ValueError("must be an email address like name@example.com")
    return _one_line(value)


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError("is not an IANA time zone name (e.g. 'Europe/Berlin' or 'UTC')")
    return value


# RFC 3339 date-time, ASCII digits only (Python's \d would also match other scripts' digits).
RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339_text(value: Any) -> Any:
    """Only RFC 3339 text: pydantic alone would also take numbers as Unix timestamps."""
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise ValueError(TIME_MEANING)
    return value


# A time of day: HH:MM or HH:MM:SS, no offset (it is read in the schedule's own zone).
TIME_OF_DAY = re.compile(r"[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?")


def _time_of_day_text(value: Any) -> Any:
    """Only HH:MM[:SS] text: pydantic alone would take 12345 as seconds, or an offset."""
    if not isinstance(value, str) or not TIME_OF_DAY.fullmatch(value):
        raise ValueError(TIME_OF_DAY_MEANING)
    return value


def _in_range(value: datetime) -> datetime:
    try:
        if not EARLIEST <= value < LATEST:
            raise ValueError("must be between 1970-01-01 and 9999-01-01")
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be between 1970-01-01 and 9999-01-01") from None


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_one_line),
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=320),
    AfterValidator(_email),
    WithJsonSchema({"type": "string", "minLength": 3, "maxLength": 320, "pattern": EMAIL_PATTERN}),
]
Description = Annotated[str, StringConstraints(max_length=4096), AfterValidator(_storable)]
TimeZone = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_time_zone),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "description": "IANA time zone name",
            "examples": ["UTC", "Europe/Berlin", "America/New_York"],
        }
    ),
]
Time = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_in_range)]
TimeOfDay = Annotated[time, BeforeValidator(_time_of_day_text)]
SearchText = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_SEARCH), AfterValidator(_storable)
]
Role = Literal["admin", "user"]
Scope = Literal["read", "write", "admin"]
IntegrationType = Literal["generic", "grafana", "prometheusAlertmanager", "email"]
AlertStatus = Literal["triggered", "acknowledged", "closed"]
HeartbeatTimeout = Annotated[int, Field(ge=60, le=9 * 24 * 3600, description="seconds")]

assert api_keys.SCOPES == ("read", "write", "admin")
assert integration_keys.INTEGRATION_TYPES == (
    "generic",
    "grafana",
    "prometheusAlertmanager",
    "email",
)
assert STATUSES == ("triggered", "acknowledged", "closed")


class Input(BaseModel):
    """A request body or query: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    """Omitted means "leave as is": a `default: null` would contradict the documented types."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class Patch(Input):
    """A partial update: omitted fields stay as they are; null only where NULLABLE says."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_defaults)
    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.NULLABLE:
            raise ValueError("may not be null; omit the field to leave it unchanged")
        return value

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class Query(Input):
    """Query parameters: absent ones are None (a query string cannot say null)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_defaults)


class PageQuery(Query):
    cursor: Annotated[str, StringConstraints(max_length=512)] | SkipJsonSchema[None] = Field(
        None, description="next_cursor of the previous page"
    )
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE)


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


class ServiceCreate(Input):
    name: Name
    description: Description = ""
    maintenance_until: Time | None = Field(
        None, description="alerts are held back until this time (a maintenance window)"
    )
    escalation_policy_id: uuid.UUID | None = Field(None, description="who is paged, and when")


class ServicePatch(Patch):
    NULLABLE = frozenset({"maintenance_until", "escalation_policy_id"})

    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    maintenance_until: Time | None = None
    escalation_policy_id: uuid.UUID | None = Field(None, description="null: page no one")


class IntegrationKeyCreate(Input):
    type: IntegrationType = "generic"
    name: Annotated[str, StringConstraints(max_length=200), AfterValidator(_one_line)] = ""


class HeartbeatMonitorCreate(Input):
    name: Name
    timeout_seconds: HeartbeatTimeout


class HeartbeatMonitorPatch(Patch):
    name: Name | SkipJsonSchema[None] = None
    timeout_seconds: HeartbeatTimeout | SkipJsonSchema[None] = None


class ApiKeyCreate(Input):
    name: Name
    scope: Scope


class AlertQuery(PageQuery):
    service_id: uuid.UUID | SkipJsonSchema[None] = None
    status: AlertStatus | SkipJsonSchema[None] = None
    q: SearchText | SkipJsonSchema[None] = Field(
        None, description="text searched for in summary and details"
    )
    since: Time | SkipJsonSchema[None] = Field(None, description="created at or after this time")
    until: Time | SkipJsonSchema[None] = Field(None, description="created before this time")


# ---- output types ------------------------------------------------------------------------------


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


OutTime = Annotated[
    datetime,
    PlainSerializer(_rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Id = Annotated[str, BeforeValidator(str)]


class Output(BaseModel):
    model_config = ConfigDict(extra="ignore")


class User(Output):
    id: str
    name: str
    email: str
    role: Role
    time_zone: str
    created_at: OutTime
    updated_at: OutTime


class Service(Output):
    id: str
    name: str
    description: str
    escalation_policy_id: str | None = Field(description="the escalation policy paging its alerts")
    maintenance_until: OutTime | None
    created_at: OutTime
    updated_at: OutTime


class IntegrationKey(Output):
    id: str
    service_id: str
    type: IntegrationType
    name: str
    created_at: OutTime
    last_used_at: OutTime | None
    revoked_at: OutTime | None


class IntegrationKeyCreated(IntegrationKey):
    token: str = Field(description="the secret: shown only in this response")
    url: str = Field(description="the ingest URL for senders, token included")


class HeartbeatMonitor(Output):
    id: str
    service_id: str
    name: str
    timeout_seconds: int
    state: Literal["inactive", "healthy", "unhealthy"]
    last_checkin_at: OutTime | None
    created_at: OutTime


class HeartbeatMonitorCreated(HeartbeatMonitor):
    checkin_secret: str = Field(description="the check-in secret: shown only in this response")
    checkin_url: str = Field(description="POST here to check in (the secret is in it)")


class ApiKey(Output):
    id: str
    name: str
    scope: Scope
    created_at: OutTime
    last_used_at: OutTime | None
    revoked_at: OutTime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="the secret: shown only in this response")


class Alert(Output):
    id: Id
    service_id: str
    status: AlertStatus
    summary: str
    details: str
    dedup_key: str
    source: str
    duplicate_count: int
    created_at: OutTime
    updated_at: OutTime
    last_seen_at: OutTime
    closed_at: OutTime | None


class AlertLogEntry(Output):
    id: Id
    event: str
    actor_type: str
    actor_id: str | None
    message: str
    meta: dict[str, Any]
    created_at: OutTime


class AlertWithLog(Alert):
    log: list[AlertLogEntry] = Field(description="the log's first entries, oldest first")
    log_next_cursor: str | None = Field(
        description="when the log has more entries: the cursor for GET /alerts/{id}/log"
    )


class AlertLogPage(Output):
    items: list[AlertLogEntry]
    next_cursor: str | None


class BulkResult(Output):
    service_id: str
    status: AlertStatus
    alert_ids: list[Id] = Field(description="the alerts this request changed")


class UserPage(Output):
    items: list[User]
    next_cursor: str | None


class ServicePage(Output):
    items: list[Service]
    next_cursor: str | None


class IntegrationKeyPage(Output):
    items: list[IntegrationKey]
    next_cursor: str | None


class HeartbeatMonitorPage(Output):
    items: list[HeartbeatMonitor]
    next_cursor: str | None


class ApiKeyPage(Output):
    items: list[ApiKey]
    next_cursor: str | None


class AlertPage(Output):
    items: list[Alert]
    next_cursor: str | None


class ErrorBody(Output):
    """The JSON error envelope every error answers with."""

    error: str
    code: str
    details: dict[str, Any]
    request_id: str | None
