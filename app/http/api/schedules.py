"""/api/v1/schedules: who is on call when — rules, overrides, temporary schedules, shifts, feeds.

A schedule's rules put a user or a rotation on call on chosen local weekdays between local
times (end before start wraps past midnight; equal means all day). Overrides add, remove or
replace a user for a span; overlapping overrides are allowed and apply in order of start (ties:
in the order they were made), each acting on the result of those before it (app.oncall.compute).
Temporary schedules replace the rules entirely during their span; of two starting together, the
newer wins.

Calendar subscriptions (`POST …/calendar-subscriptions`) answer once with a feed URL whose token
is the credential: `GET /calendar/<token>.ics` needs no API key and answers 404 for unknown or
revoked tokens. It lives outside /api/v1 on purpose: every /api/v1 route takes an API key of a
scope (and is held to that by the auth and OpenAPI tests), and the API's request log writes
paths, which here carry the token; the access log hides it (config.gunicorn_logging).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

import psycopg
import structlog
from flask import Response
from flask.blueprints import BlueprintSetupState
from pydantic import Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.contacts import channels as contacts_channels
from app.http.api import pagination
from app.http.api.routing import NotFound, api_blueprint, endpoint, settings, transaction
from app.http.api.schemas import (
    Description,
    ErrorBody,
    Input,
    Name,
    Output,
    OutTime,
    PageQuery,
    Patch,
    Query,
    Time,
    TimeOfDay,
    TimeZone,
)
from app.http.api.validation import FieldProblem
from app.oncall import compute, ical, store
from app.oncall.model import Schedule as ScheduleValue
from app.oncall.model import Shift as ShiftValue
from app.platform.errors import Conflict, invalid

TAG = "schedules"
log = structlog.get_logger(__name__)
T = TypeVar("T")
ONE = "/schedules/<uuid:schedule_id>"
DEFAULT_SHIFTS_RANGE = timedelta(days=7)  # `GET …/shifts` without start/end: the next week
NEXT_SHIFT_HORIZON = timedelta(days=90)  # "when am I on call next" looks this far ahead
FEED_PAST = timedelta(days=1)  # a feed starts this long before the start of today (UTC) …
FEED_AHEAD = timedelta(days=60)  # … and reaches this far ahead
# Shifts in one temporary schedule: weeks of hand-made cover, and a body well within MAX_BODY.
MAX_TEMPORARY_SHIFTS = 200

Weekday = Annotated[int, Field(ge=0, le=6)]
Weekdays = Annotated[
    list[Weekday], Field(min_length=1, max_length=7, description="0 = Monday … 6 = Sunday")
]
TargetType = Literal["user", "rotation"]
OverrideKind = Literal["add", "remove", "replace"]


# ---- schemas -------------------------------------------------------------------------------------


NOTICE_CHANNEL = "a notification channel told who is on call at each shift change"


class ScheduleCreate(Input):
    name: Name
    description: Description = ""
    time_zone: TimeZone
    notice_channel_id: UUID | None = Field(None, description=NOTICE_CHANNEL)


class SchedulePatch(Patch):
    NULLABLE = frozenset({"notice_channel_id"})

    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    time_zone: TimeZone | SkipJsonSchema[None] = None
    notice_channel_id: UUID | None = Field(None, description=NOTICE_CHANNEL + " (null: none)")


class Schedule(Output):
    id: str
    name: str
    description: str
    time_zone: str
    notice_channel_id: str | None = Field(description=NOTICE_CHANNEL)
    created_at: OutTime
    updated_at: OutTime


class SchedulePage(Output):
    items: list[Schedule]
    next_cursor: str | None


class RuleCreate(Input):
    target_type: TargetType
    target_id: UUID = Field(description="a user id or a rotation id, per target_type")
    weekdays: Weekdays = [0, 1, 2, 3, 4, 5, 6]
    start_time: TimeOfDay = Field(time(0), description="local time in the schedule's zone")
    end_time: TimeOfDay = Field(time(0), description="before start_time wraps; equal is all day")


class RulePatch(Patch):
    target_type: TargetType | SkipJsonSchema[None] = None
    target_id: UUID | SkipJsonSchema[None] = None
    weekdays: Weekdays | SkipJsonSchema[None] = None
    start_time: TimeOfDay | SkipJsonSchema[None] = None
    end_time: TimeOfDay | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _target_together(self) -> RulePatch:
        if (self.target_type is None) != (self.target_id is None):
            missing = "target_id" if self.target_id is None else "target_type"
            raise FieldProblem(missing, "target_type and target_id change together: send both")
        return self


class Rule(Output):
    id: str
    schedule_id: str
    target_type: TargetType
    target_id: str
    weekdays: list[int]
    start_time: time
    end_time: time
    created_at: OutTime


class RulePage(Output):
    items: list[Rule]
    next_cursor: str | None


# Which kinds of override take which user.
OVERRIDE_USERS = {"add_user_id": ("add", "replace"), "remove_user_id": ("remove", "replace")}
ADD_USER = "for add and replace"
REMOVE_USER = "for remove and replace"


class OverrideCreate(Input):
    """Checked further by _check_override (end after start, the users the kind needs exist)."""

    kind: OverrideKind
    add_user_id: UUID | None = Field(None, description=ADD_USER)
    remove_user_id: UUID | None = Field(None, description=REMOVE_USER)
    start: Time
    end: Time


class OverridePatch(Patch):
    """The change is merged into the stored override, which must then pass POST's checks: a
    change of kind sends the users it needs and nulls the one it no longer takes."""

    NULLABLE = frozenset({"add_user_id", "remove_user_id"})

    kind: OverrideKind | SkipJsonSchema[None] = None
    add_user_id: UUID | None = Field(None, description=ADD_USER + " (null: none)")
    remove_user_id: UUID | None = Field(None, description=REMOVE_USER + " (null: none)")
    start: Time | SkipJsonSchema[None] = None
    end: Time | SkipJsonSchema[None] = None


class Override(Output):
    id: str
    schedule_id: str
    kind: OverrideKind
    add_user_id: str | None
    remove_user_id: str | None
    start: OutTime
    end: OutTime
    created_at: OutTime


class OverridePage(Output):
    items: list[Override]
    next_cursor: str | None


class ShiftIn(Input):
    user_id: UUID
    start: Time
    end: Time


ShiftsIn = Annotated[list[ShiftIn], Field(max_length=MAX_TEMPORARY_SHIFTS)]


class TemporaryScheduleCreate(Input):
    """Checked further by _check_temporary (end after start, shifts within, users exist);
    shifts may overlap (two people on call at once)."""

    start: Time
    end: Time
    shifts: ShiftsIn = []


class TemporarySchedulePatch(Patch):
    """Move the span and/or replace the shifts wholesale; the result must pass POST's checks."""

    start: Time | SkipJsonSchema[None] = None
    end: Time | SkipJsonSchema[None] = None
    shifts: ShiftsIn | SkipJsonSchema[None] = Field(None, description="replaces all the shifts")


class Shift(Output):
    user_id: str
    start: OutTime
    end: OutTime


class TemporarySchedule(Output):
    id: str
    schedule_id: str
    start: OutTime
    end: OutTime
    shifts: list[Shift]
    created_at: OutTime


class TemporarySchedulePage(Output):
    items: list[TemporarySchedule]
    next_cursor: str | None


class RangeQuery(Query):
    start: Time | SkipJsonSchema[None] = Field(None, description="default: now")
    end: Time | SkipJsonSchema[None] = Field(None, description="default: start + 7 days")


class AtQuery(Query):
    at: Time | SkipJsonSchema[None] = Field(None, description="the instant (default: now)")


class ShiftPage(Output):
    items: list[Shift]
    next_cursor: str | None = Field(description="always null: a range is answered whole")
    start: OutTime
    end: OutTime


class ScheduleOnCall(Output):
    schedule_id: str
    at: OutTime
    user_ids: list[str]


class NextShift(Output):
    schedule_id: str
    start: OutTime
    end: OutTime


class UserNextShift(Output):
    user_id: str
    shift: NextShift | None = Field(
        description=f"null: none in the next {NEXT_SHIFT_HORIZON.days} days"
    )


class CalendarSubscription(Output):
    id: str
    user_id: str | None
    schedule_id: str | None
    created_at: OutTime
    revoked_at: OutTime | None


class CalendarSubscriptionPage(Output):
    items: list[CalendarSubscription]
    next_cursor: str | None


class CalendarSubscriptionCreated(CalendarSubscription):
    url: str = Field(description="the feed URL, token included: shown only in this response")


# ---- helpers -------------------------------------------------------------------------------------


def require_schedule(conn: psycopg.Connection[Any], schedule_id: UUID) -> dict[str, Any]:
    row = store.get_schedule(conn, str(schedule_id))
    if row is None:
        raise NotFound(f"no schedule with id {schedule_id}")
    return _with_notice_channels(conn, [row])[0]


def _with_notice_channels(
    conn: psycopg.Connection[Any], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    channels = store.notice_channels(conn, [row["id"] for row in rows])
    return [{**row, "notice_channel_id": channels.get(row["id"])} for row in rows]


def _set_notice_channel(
    conn: psycopg.Connection[Any], schedule_id: str, channel_id: UUID | None
) -> None:
    """Point the schedule's on-call notices at a channel (422 if it does not exist) or nowhere."""
    if channel_id is not None and not contacts_channels.channel_exists(conn, str(channel_id)):
        raise invalid("notice_channel_id", f"no notification channel with id {channel_id}")
    store.set_notice_channel(conn, schedule_id, None if channel_id is None else str(channel_id))


def _not_found(what: str, item_id: UUID, schedule_id: UUID) -> NotFound:
    return NotFound(f"no {what} with id {item_id} in schedule {schedule_id}")


def _check_users(conn: psycopg.Connection[Any], fields: dict[str, str | None]) -> None:
    """422 naming the first field (of field -> user id) whose user does not exist."""
    missing = store.missing_users(conn, [v for v in fields.values() if v is not None])
    for field, user_id in fields.items():
        if user_id in missing:
            raise invalid(field, f"no user with id {user_id}")


def _needed(needed: bool) -> str:
    return "required for this kind" if needed else "not allowed for this kind"


def _check_override(conn: psycopg.Connection[Any], fields: dict[str, Any]) -> None:
    """What an override must be, as 422s naming the field (POST and the result of a PATCH)."""
    if fields["end"] <= fields["start"]:
        raise invalid("end", "must be after start")
    for field, kinds in OVERRIDE_USERS.items():
        if (fields[field] is not None) != (fields["kind"] in kinds):
            raise invalid(field, _needed(fields["kind"] in kinds))
    _check_users(conn, {field: fields[field] for field in OVERRIDE_USERS})


def _override_fields(fields: dict[str, Any]) -> dict[str, Any]:
    for key in ("add_user_id", "remove_user_id"):
        if key in fields:
            fields[key] = None if fields[key] is None else str(fields[key])
    return fields


def _check_temporary(
    conn: psycopg.Connection[Any],
    start: datetime,
    end: datetime,
    shifts: list[dict[str, Any]],
    kept: bool = False,
) -> None:
    """What a temporary schedule must be, as 422s naming the field: end after start, each
    shift non-empty and within [start, end), each shift's user existing. Shifts may overlap.
    `kept`: the shifts are the stored ones, which a PATCH moving the span did not replace."""
    if end <= start:
        raise invalid("end", "must be after start")
    if kept:
        if any(not start <= s["start"] < s["end"] <= end for s in shifts):
            message = "a kept shift would lie outside the new start and end: send shifts too"
            raise invalid("shifts", message)
        return
    for n, shift in enumerate(shifts):
        if shift["end"] <= shift["start"]:
            raise invalid(f"shifts.{n}.end", "must be after the shift's start")
        if not start <= shift["start"] < shift["end"] <= end:
            raise invalid(f"shifts.{n}", "must lie within the temporary schedule's start and end")
    _check_users(conn, {f"shifts.{n}.user_id": s["user_id"] for n, s in enumerate(shifts)})


def _shift_rows(shifts: list[ShiftIn]) -> list[dict[str, Any]]:
    return [{**s.model_dump(), "user_id": str(s.user_id)} for s in shifts]


def _check_range(start: datetime, end: datetime) -> None:
    """A shifts query's range, as 422s naming `end` (the bound a client adjusts)."""
    if end <= start:
        raise invalid("end", "must be after start")
    if end - start > compute.MAX_RANGE:
        days = compute.MAX_RANGE.days
        raise invalid("end", f"must be at most {days} days after start; ask in pieces")


class NotComputable(Conflict):
    code = "schedule_not_computable"


def _computed(work: Callable[..., T], *args: Any) -> T:
    """Run an on-call computation. The request was checked already, so its ValueError is about
    the stored schedule (e.g. a rotation lost its last participant): a 409, not a 422."""
    try:
        return work(*args)
    except ValueError as exc:
        raise NotComputable(f"the schedule cannot be computed: {exc}") from None


def _shifts_or_none(
    schedule: ScheduleValue, rotations: dict[str, Any], start: datetime, end: datetime
) -> list[ShiftValue]:
    """The schedule's shifts, or none (logged) when it cannot be computed — e.g. a rotation of
    it lost its last participant: one broken schedule must not blank a user's whole feed."""
    try:
        return compute.schedule_shifts(schedule, rotations, start, end)
    except ValueError as exc:
        log.warning("oncall_schedule_skipped", schedule_id=schedule.id, reason=str(exc))
        return []


def _load(conn: psycopg.Connection[Any], schedule_id: UUID) -> tuple[ScheduleValue, dict[str, Any]]:
    """The schedule as a model value, and the rotations its rules name."""
    value = store.load_schedule(conn, str(schedule_id))
    if value is None:
        raise NotFound(f"no schedule with id {schedule_id}")
    return value, store.load_rotations(conn, store.rotation_ids_of(value))


def _shift(shift: ShiftValue) -> Shift:
    return Shift(user_id=shift.user_id, start=shift.start, end=shift.end)


# ---- schedules -----------------------------------------------------------------------------------


@endpoint("/schedules", "GET", "read", TAG, HTTP_200=SchedulePage)
def list_schedules(query: PageQuery) -> SchedulePage:
    """List schedules, oldest first."""
    after = pagination.decode_time_cursor(query.cursor)
    with transaction() as conn:
        rows = _with_notice_channels(conn, store.list_schedules(conn, after, query.limit + 1))
    items, next_cursor = pagination.page(
        rows, query.limit, pagination.time_cursor, Schedule.model_validate
    )
    return SchedulePage(items=items, next_cursor=next_cursor)


@endpoint("/schedules", "POST", "write", TAG, HTTP_201=Schedule)
def create_schedule(json: ScheduleCreate) -> tuple[Schedule, int]:
    """Create a schedule; its name must be unique (case-insensitively)."""
    with transaction() as conn:
        row = store.create_schedule(conn, json.name, json.time_zone, json.description)
        if json.notice_channel_id is not None:
            _set_notice_channel(conn, row["id"], json.notice_channel_id)
        row = require_schedule(conn, UUID(row["id"]))
    return Schedule.model_validate(row), 201


@endpoint(ONE, "GET", "read", TAG, HTTP_200=Schedule)
def get_schedule(schedule_id: UUID) -> Schedule:
    """Get one schedule."""
    with transaction() as conn:
        return Schedule.model_validate(require_schedule(conn, schedule_id))


@endpoint(ONE, "PATCH", "write", TAG, HTTP_200=Schedule)
def update_schedule(schedule_id: UUID, json: SchedulePatch) -> Schedule:
    """Change a schedule's name, description, time zone or notice channel."""
    changes = json.changes()
    notice = "notice_channel_id" in changes
    channel_id = changes.pop("notice_channel_id", None)
    with transaction() as conn:
        row = store.update_schedule(conn, str(schedule_id), changes)
        if row is None:
            raise NotFound(f"no schedule with id {schedule_id}")
        if notice:
            _set_notice_channel(conn, str(schedule_id), channel_id)
        row = require_schedule(conn, schedule_id)
    return Schedule.model_validate(row)


@endpoint(ONE, "DELETE", "write", TAG, HTTP_204=None)
def delete_schedule(schedule_id: UUID) -> tuple[str, int]:
    """Delete a schedule with its rules, overrides, temporary schedules and feeds."""
    with transaction() as conn:
        if not store.delete_schedule(conn, str(schedule_id)):
            raise NotFound(f"no schedule with id {schedule_id}")
    return "", 204


# ---- rules ---------------------------------------------------------------------------------------

RULES = ONE + "/rules"
RULE = RULES + "/<uuid:rule_id>"


def _rule_fields(fields: dict[str, Any]) -> dict[str, Any]:
    if fields.get("target_id") is not None:
        fields["target_id"] = str(fields["target_id"])
    return fields


@endpoint(RULES, "GET", "read", TAG, HTTP_200=RulePage)
def list_rules(schedule_id: UUID, query: PageQuery) -> RulePage:
    """List a schedule's rules, oldest first."""
    after = pagination.decode_time_cursor(query.cursor)
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        rows = store.list_rules(conn, str(schedule_id), after, query.limit + 1)
    items, next_cursor = pagination.page(
        rows, query.limit, pagination.time_cursor, Rule.model_validate
    )
    return RulePage(items=items, next_cursor=next_cursor)


@endpoint(RULES, "POST", "write", TAG, HTTP_201=Rule)
def create_rule(schedule_id: UUID, json: RuleCreate) -> tuple[Rule, int]:
    """Add a rule: a user or rotation on call on some weekdays between two local times."""
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        row = store.create_rule(conn, str(schedule_id), _rule_fields(json.model_dump()))
    return Rule.model_validate(row), 201


@endpoint(RULE, "GET", "read", TAG, HTTP_200=Rule)
def get_rule(schedule_id: UUID, rule_id: UUID) -> Rule:
    """Get one rule."""
    with transaction() as conn:
        row = store.get_rule(conn, str(schedule_id), str(rule_id))
    if row is None:
        raise _not_found("rule", rule_id, schedule_id)
    return Rule.model_validate(row)


@endpoint(RULE, "PATCH", "write", TAG, HTTP_200=Rule)
def update_rule(schedule_id: UUID, rule_id: UUID, json: RulePatch) -> Rule:
    """Change a rule (target_type and target_id change together)."""
    with transaction() as conn:
        row = store.update_rule(conn, str(schedule_id), str(rule_id), _rule_fields(json.changes()))
    if row is None:
        raise _not_found("rule", rule_id, schedule_id)
    return Rule.model_validate(row)


@endpoint(RULE, "DELETE", "write", TAG, HTTP_204=None)
def delete_rule(schedule_id: UUID, rule_id: UUID) -> tuple[str, int]:
    """Delete a rule."""
    with transaction() as conn:
        if not store.delete_rule(conn, str(schedule_id), str(rule_id)):
            raise _not_found("rule", rule_id, schedule_id)
    return "", 204


# ---- overrides -----------------------------------------------------------------------------------

OVERRIDES = ONE + "/overrides"
OVERRIDE = OVERRIDES + "/<uuid:override_id>"


@endpoint(OVERRIDES, "GET", "read", TAG, HTTP_200=OverridePage)
def list_overrides(schedule_id: UUID, query: PageQuery) -> OverridePage:
    """List a schedule's overrides, oldest first."""
    after = pagination.decode_time_cursor(query.cursor)
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        rows = store.list_overrides(conn, str(schedule_id), after, query.limit + 1)
    items, next_cursor = pagination.page(
        rows, query.limit, pagination.time_cursor, Override.model_validate
    )
    return OverridePage(items=items, next_cursor=next_cursor)


@endpoint(OVERRIDES, "POST", "write", TAG, HTTP_201=Override)
def create_override(schedule_id: UUID, json: OverrideCreate) -> tuple[Override, int]:
    """Add, remove or replace a user during [start, end); overrides may overlap."""
    fields = _override_fields(json.model_dump())
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        _check_override(conn, fields)
        row = store.create_override(conn, str(schedule_id), fields)
    return Override.model_validate(row), 201


@endpoint(OVERRIDE, "GET", "read", TAG, HTTP_200=Override)
def get_override(schedule_id: UUID, override_id: UUID) -> Override:
    """Get one override."""
    with transaction() as conn:
        row = store.get_override(conn, str(schedule_id), str(override_id))
    if row is None:
        raise _not_found("override", override_id, schedule_id)
    return Override.model_validate(row)


@endpoint(OVERRIDE, "PATCH", "write", TAG, HTTP_200=Override)
def update_override(schedule_id: UUID, override_id: UUID, json: OverridePatch) -> Override:
    """Change an override's kind, users or span; the result is checked as POST checks it."""
    with transaction() as conn:
        stored = store.lock_override(conn, str(schedule_id), str(override_id))
        if stored is None:
            raise _not_found("override", override_id, schedule_id)
        fields = {key: stored[key] for key in ("kind", "add_user_id", "remove_user_id")}
        fields |= {"start": stored["start"], "end": stored["end"]}
        fields |= _override_fields(json.changes())
        _check_override(conn, fields)
        row = store.update_override(conn, str(schedule_id), str(override_id), fields)
    assert row is not None  # locked above
    return Override.model_validate(row)


@endpoint(OVERRIDE, "DELETE", "write", TAG, HTTP_204=None)
def delete_override(schedule_id: UUID, override_id: UUID) -> tuple[str, int]:
    """Delete an override."""
    with transaction() as conn:
        if not store.delete_override(conn, str(schedule_id), str(override_id)):
            raise _not_found("override", override_id, schedule_id)
    return "", 204


# ---- temporary schedules -------------------------------------------------------------------------

TEMPORARIES = ONE + "/temporary-schedules"
TEMPORARY = TEMPORARIES + "/<uuid:temporary_id>"


@endpoint(TEMPORARIES, "GET", "read", TAG, HTTP_200=TemporarySchedulePage)
def list_temporary_schedules(schedule_id: UUID, query: PageQuery) -> TemporarySchedulePage:
    """List a schedule's temporary schedules, oldest first."""
    after = pagination.decode_time_cursor(query.cursor)
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        rows = store.list_temporary_schedules(conn, str(schedule_id), after, query.limit + 1)
    items, next_cursor = pagination.page(
        rows, query.limit, pagination.time_cursor, TemporarySchedule.model_validate
    )
    return TemporarySchedulePage(items=items, next_cursor=next_cursor)


@endpoint(TEMPORARIES, "POST", "write", TAG, HTTP_201=TemporarySchedule)
def create_temporary_schedule(
    schedule_id: UUID, json: TemporaryScheduleCreate
) -> tuple[TemporarySchedule, int]:
    """Replace the schedule's rules during [start, end) with these shifts (none: nobody)."""
    shifts = _shift_rows(json.shifts)
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        _check_temporary(conn, json.start, json.end, shifts)
        row = store.create_temporary_schedule(conn, str(schedule_id), json.start, json.end, shifts)
    return TemporarySchedule.model_validate(row), 201


@endpoint(TEMPORARY, "GET", "read", TAG, HTTP_200=TemporarySchedule)
def get_temporary_schedule(schedule_id: UUID, temporary_id: UUID) -> TemporarySchedule:
    """Get one temporary schedule with its shifts."""
    with transaction() as conn:
        row = store.get_temporary_schedule(conn, str(schedule_id), str(temporary_id))
    if row is None:
        raise _not_found("temporary schedule", temporary_id, schedule_id)
    return TemporarySchedule.model_validate(row)


@endpoint(TEMPORARY, "PATCH", "write", TAG, HTTP_200=TemporarySchedule)
def update_temporary_schedule(
    schedule_id: UUID, temporary_id: UUID, json: TemporarySchedulePatch
) -> TemporarySchedule:
    """Move its span and/or replace its shifts wholesale, in one transaction; the result is
    checked as POST checks it (kept shifts must fit a moved span: else send shifts too)."""
    shifts = None if json.shifts is None else _shift_rows(json.shifts)
    with transaction() as conn:
        stored = store.lock_temporary_schedule(conn, str(schedule_id), str(temporary_id))
        if stored is None:
            raise _not_found("temporary schedule", temporary_id, schedule_id)
        start: datetime = stored["start"] if json.start is None else json.start
        end: datetime = stored["end"] if json.end is None else json.end
        if shifts is None:
            _check_temporary(conn, start, end, stored["shifts"], kept=True)
        else:
            _check_temporary(conn, start, end, shifts)
        row = store.update_temporary_schedule(conn, str(temporary_id), start, end, shifts)
    return TemporarySchedule.model_validate(row)


@endpoint(TEMPORARY, "DELETE", "write", TAG, HTTP_204=None)
def delete_temporary_schedule(schedule_id: UUID, temporary_id: UUID) -> tuple[str, int]:
    """Delete a temporary schedule."""
    with transaction() as conn:
        if not store.delete_temporary_schedule(conn, str(schedule_id), str(temporary_id)):
            raise _not_found("temporary schedule", temporary_id, schedule_id)
    return "", 204


# ---- shifts and who is on call -------------------------------------------------------------------


@endpoint(ONE + "/shifts", "GET", "read", TAG, HTTP_200=ShiftPage, HTTP_409=ErrorBody)
def list_shifts(schedule_id: UUID, query: RangeQuery) -> ShiftPage:
    """Who is on call during [start, end) (default: the next 7 days), sorted by start."""
    start = query.start or datetime.now(UTC)
    end = query.end or start + DEFAULT_SHIFTS_RANGE
    _check_range(start, end)
    with transaction() as conn:
        schedule, rotations = _load(conn, schedule_id)
    shifts = _computed(compute.schedule_shifts, schedule, rotations, start, end)
    return ShiftPage(items=[_shift(s) for s in shifts], next_cursor=None, start=start, end=end)


@endpoint(ONE + "/on-call", "GET", "read", TAG, HTTP_200=ScheduleOnCall, HTTP_409=ErrorBody)
def schedule_on_call(schedule_id: UUID, query: AtQuery) -> ScheduleOnCall:
    """Who the schedule has on call now (or `at`)."""
    at = query.at or datetime.now(UTC)
    with transaction() as conn:
        schedule, rotations = _load(conn, schedule_id)
    users = _computed(compute.on_call_now, schedule, rotations, at)
    return ScheduleOnCall(schedule_id=str(schedule_id), at=at, user_ids=sorted(users))


@endpoint("/users/<uuid:user_id>/on-call-next", "GET", "read", TAG, HTTP_200=UserNextShift)
def user_next_shift(user_id: UUID) -> UserNextShift:
    """When the user is next on call (their current shift if on call now), in any schedule."""
    now = datetime.now(UTC)
    found: list[tuple[datetime, datetime, str]] = []
    with transaction() as conn:
        if conn.execute("SELECT 1 FROM users WHERE id = %s", (user_id,)).fetchone() is None:
            raise NotFound(f"no user with id {user_id}")
        for schedule_id in store.schedule_ids_for_user(conn, str(user_id)):
            schedule, rotations = _load(conn, UUID(schedule_id))
            shifts = _shifts_or_none(schedule, rotations, now, now + NEXT_SHIFT_HORIZON)
            shift = compute.next_shift_for(str(user_id), shifts, now)
            if shift is not None:
                found.append((shift.start, shift.end, schedule_id))
    if not found:
        return UserNextShift(user_id=str(user_id), shift=None)
    start, end, schedule_id = min(found)
    return UserNextShift(
        user_id=str(user_id), shift=NextShift(schedule_id=schedule_id, start=start, end=end)
    )


# ---- calendar subscriptions ----------------------------------------------------------------------

FEED_PREFIX = "/calendar"  # outside /api/v1: the token in the path is the credential
SCHEDULE_FEEDS = ONE + "/calendar-subscriptions"
USER_FEEDS = "/users/<uuid:user_id>/calendar-subscriptions"


def _created(row: dict[str, Any]) -> CalendarSubscriptionCreated:
    url = f"{settings().public_url}{FEED_PREFIX}/{row['token']}.ics"
    return CalendarSubscriptionCreated.model_validate({**row, "url": url})


def _subscription_page(
    conn: psycopg.Connection[Any], owner_column: str, owner_id: UUID, query: PageQuery
) -> CalendarSubscriptionPage:
    after = pagination.decode_time_cursor(query.cursor)
    rows = store.list_subscriptions(conn, owner_column, str(owner_id), after, query.limit + 1)
    items, next_cursor = pagination.page(
        rows, query.limit, pagination.time_cursor, CalendarSubscription.model_validate
    )
    return CalendarSubscriptionPage(items=items, next_cursor=next_cursor)


@endpoint(SCHEDULE_FEEDS, "GET", "read", TAG, HTTP_200=CalendarSubscriptionPage)
def list_schedule_subscriptions(schedule_id: UUID, query: PageQuery) -> CalendarSubscriptionPage:
    """List a schedule's calendar feeds, revoked ones too, oldest first (never their URLs)."""
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        return _subscription_page(conn, "schedule_id", schedule_id, query)


@endpoint(SCHEDULE_FEEDS, "POST", "write", TAG, HTTP_201=CalendarSubscriptionCreated)
def create_schedule_subscription(schedule_id: UUID) -> tuple[CalendarSubscriptionCreated, int]:
    """A calendar feed of the schedule's shifts; its URL is shown only in this response."""
    with transaction() as conn:
        require_schedule(conn, schedule_id)
        row = store.create_subscription(conn, schedule_id=str(schedule_id))
    return _created(row), 201


@endpoint(SCHEDULE_FEEDS + "/<uuid:subscription_id>", "DELETE", "write", TAG, HTTP_204=None)
def revoke_schedule_subscription(schedule_id: UUID, subscription_id: UUID) -> tuple[str, int]:
    """Revoke a schedule's calendar feed: its URL answers 404 from now on."""
    with transaction() as conn:
        if not store.revoke_subscription(
            conn, str(subscription_id), "schedule_id", str(schedule_id)
        ):
            raise NotFound(f"no calendar subscription {subscription_id} of schedule {schedule_id}")
    return "", 204


def _require_user(conn: psycopg.Connection[Any], user_id: UUID) -> None:
    if conn.execute("SELECT 1 FROM users WHERE id = %s", (user_id,)).fetchone() is None:
        raise NotFound(f"no user with id {user_id}")


@endpoint(USER_FEEDS, "GET", "read", TAG, HTTP_200=CalendarSubscriptionPage)
def list_user_subscriptions(user_id: UUID, query: PageQuery) -> CalendarSubscriptionPage:
    """List a user's calendar feeds, revoked ones too, oldest first (never their URLs)."""
    with transaction() as conn:
        _require_user(conn, user_id)
        return _subscription_page(conn, "user_id", user_id, query)


@endpoint(USER_FEEDS, "POST", "write", TAG, HTTP_201=CalendarSubscriptionCreated)
def create_user_subscription(user_id: UUID) -> tuple[CalendarSubscriptionCreated, int]:
    """A calendar feed of the user's shifts in every schedule; the URL is shown only here."""
    with transaction() as conn:
        _require_user(conn, user_id)
        row = store.create_subscription(conn, user_id=str(user_id))
    return _created(row), 201


@endpoint(USER_FEEDS + "/<uuid:subscription_id>", "DELETE", "write", TAG, HTTP_204=None)
def revoke_user_subscription(user_id: UUID, subscription_id: UUID) -> tuple[str, int]:
    """Revoke a user's calendar feed: its URL answers 404 from now on."""
    with transaction() as conn:
        if not store.revoke_subscription(conn, str(subscription_id), "user_id", str(user_id)):
            raise NotFound(f"no calendar subscription {subscription_id} of user {user_id}")
    return "", 204


def _feed_window(now: datetime) -> tuple[datetime, datetime]:
    """From a day before today's start (UTC): a stable start keeps clipped shifts' UIDs stable."""
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - FEED_PAST
    return start, now + FEED_AHEAD


def _feed_shifts(
    conn: psycopg.Connection[Any], schedule_ids: list[str], user_id: str | None, now: datetime
) -> list[ical.FeedShift]:
    """The feed's shifts: a user's own (events name the schedule) or a schedule's (events name
    the person on call; a user deleted meanwhile shows as their id)."""
    start, end = _feed_window(now)
    found: list[tuple[str, str, ShiftValue]] = []
    for schedule_id in schedule_ids:
        row = store.get_schedule(conn, schedule_id)
        schedule, rotations = _load(conn, UUID(schedule_id))
        for shift in _shifts_or_none(schedule, rotations, start, end):
            if user_id is None or shift.user_id == user_id:
                found.append((schedule_id, row["name"] if row else "", shift))
    if user_id is not None:
        return [ical.FeedShift(*item) for item in found]
    names = store.user_names(conn, {shift.user_id for _, _, shift in found})
    return [
        ical.FeedShift(sid, name, shift, names.get(shift.user_id, shift.user_id))
        for sid, name, shift in found
    ]


def calendar_feed(token: str) -> Response:
    """The .ics feed a subscription's token opens (404 for unknown or revoked tokens)."""
    now = datetime.now(UTC)
    with transaction() as conn:
        subscription = store.verify_subscription(conn, token)
        if subscription is None:
            raise NotFound("no such calendar feed (it may have been revoked)")
        user_id = subscription["user_id"]
        if user_id is not None:
            schedule_ids = store.schedule_ids_for_user(conn, user_id)
            name = "On call"
        else:
            schedule_ids = [subscription["schedule_id"]]
            row = store.get_schedule(conn, subscription["schedule_id"])
            name = f"On call: {row['name'] if row else ''}"
        shifts = _feed_shifts(conn, schedule_ids, user_id, now)
    body = ical.build_calendar(name, shifts, now)
    return Response(body, mimetype="text/calendar", headers={"Cache-Control": "no-store"})


def _register_feed(state: BlueprintSetupState) -> None:
    state.app.add_url_rule(
        FEED_PREFIX + "/<token>.ics", "calendar_feed", calendar_feed, methods=["GET"]
    )


api_blueprint.record_once(_register_feed)
