"""What every /api/v1 schema builds on: the request and response bases, the error envelope, and
the field types and validators resources share.

Inputs are strict (unknown fields are rejected, text may not carry NUL or lone surrogates, times
need an offset and are stored as UTC); outputs use string ids and RFC 3339 UTC times (`…Z`).
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, datetime, time
from typing import Annotated, Any, ClassVar
from uuid import UUID

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

from app.http.api.validation import TIME_MEANING, TIME_OF_DAY_MEANING

MAX_PAGE = 200  # items per page at most: one page must stay a quick query and a small response
DEFAULT_PAGE = 50
MAX_DELAY = 10080  # minutes: one week (notification rules' and escalation steps' delays)
# Times outside this range are refused: Postgres would store them, but a far-past time in a
# far-west offset reads back as a BC date that Python cannot represent.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


# ---- input types -------------------------------------------------------------------------------


def storable(value: str) -> str:
    """Text Postgres can store: no NUL characters, valid UTF-8 (no lone surrogates)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def one_line(value: str) -> str:
    """Storable text without control characters (names, emails)."""
    storable(value)
    if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in value):
        raise ValueError("must not contain control characters or line breaks")
    return value


@functools.cache
def time_zones() -> frozenset[str]:
    """Every IANA zone name the system knows: what a time zone field accepts."""
    return frozenset(zoneinfo.available_timezones())


@functools.cache
def sorted_time_zones() -> tuple[str, ...]:
    """time_zones() in order: the web app's zone selects offer these."""
    return tuple(sorted(time_zones()))


def _time_zone(value: str) -> str:
    if value not in time_zones():
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
    AfterValidator(one_line),
]
Description = Annotated[str, StringConstraints(max_length=4096), AfterValidator(storable)]
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


def dump(model: Patch) -> dict[str, Any]:
    """A PATCH body's fields as given, keeping UUIDs as text."""
    return {k: (str(v) if isinstance(v, UUID) else v) for k, v in model.changes().items()}


class Query(Input):
    """Query parameters: absent ones are None (a query string cannot say null)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_defaults)


class PageQuery(Query):
    cursor: Annotated[str, StringConstraints(max_length=512)] | SkipJsonSchema[None] = Field(
        None, description="next_cursor of the previous page"
    )
    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE)


# An instant to ask about: who a rotation, a schedule or a service has on call. (No docstring:
# it would become the schema's description in the OpenAPI document.)
class AtQuery(Query):
    at: Time | SkipJsonSchema[None] = Field(None, description="the instant (default: now)")


# ---- output types ------------------------------------------------------------------------------


def rfc3339(value: datetime) -> str:
    """`value` as the API writes times: RFC 3339 in UTC with a Z."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


OutTime = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Id = Annotated[str, BeforeValidator(str)]


class Output(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ErrorBody(Output):
    """The JSON error envelope every error answers with."""

    error: str
    code: str
    details: dict[str, Any]
    request_id: str | None
