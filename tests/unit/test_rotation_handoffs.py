"""A rotation's outlook (app.oncall.handoffs), what the rotation pages show: who is on now,
since and until when, and the next handoffs; across a daylight-saving change a daily 09:00
handoff stays at 09:00 local, as the page shows it (app.http.pages.formatting.when)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.http.pages.formatting import when
from app.oncall import compute, handoffs
from app.oncall.model import Rotation

NEW_YORK = ZoneInfo("America/New_York")


def daily(start: datetime, people: tuple[str, ...] = ("ada", "bo", "cy"), **kw: object) -> Rotation:
    fields: dict[str, object] = {
        "id": "r", "type": "daily", "shift_length": 1, "start": start,
        "time_zone": "America/New_York", "participants": people,
    }  # fmt: skip
    return Rotation(**(fields | kw))  # type: ignore[arg-type]


def test_a_daily_handoff_stays_at_nine_local_across_the_spring_change() -> None:
    rotation = daily(datetime(2027, 3, 1, 9, tzinfo=NEW_YORK))
    now = datetime(2027, 3, 10, 12, tzinfo=UTC)  # 07:00 EST
    outlook = handoffs.outlook(rotation, now)
    assert len(outlook.handoffs) == handoffs.NEXT_HANDOFFS
    local = [h.at.astimezone(NEW_YORK) for h in outlook.handoffs]
    assert [t.date().day for t in local] == list(range(10, 20))
    assert all((t.hour, t.minute) == (9, 0) for t in local)
    # The shift of the 13th lasts 23 hours: the clocks jump on the 14th at 02:00.
    lengths = [b.at - a.at for a, b in zip(outlook.handoffs, outlook.handoffs[1:], strict=False)]
    assert lengths[3] == timedelta(hours=23) and lengths[2] == lengths[4] == timedelta(hours=24)
    shown = [re.sub(r"<[^>]+>", "", str(when(h.at, "America/New_York"))) for h in outlook.handoffs]
    assert shown[3] == "2027-03-13 09:00:00 EST" and shown[4] == "2027-03-14 09:00:00 EDT"
    # Everyone agrees with the computation's own shifts, turn by turn.
    shifts = compute.rotation_shifts(rotation, now, now + timedelta(days=11))
    assert [(h.at, h.user_id) for h in outlook.handoffs] == [
        (s.start, s.user_id) for s in shifts[1:11]
    ]


def test_who_is_on_now_since_and_until() -> None:
    rotation = daily(datetime(2027, 3, 1, 9, tzinfo=NEW_YORK), start_index=1)
    now = datetime(2027, 3, 14, 3, tzinfo=NEW_YORK)  # 03:00 EDT, an hour after the jump
    outlook = handoffs.outlook(rotation, now)
    assert outlook.on_call == compute.rotation_on_call_at(rotation, now)
    assert outlook.position == handoffs.position_at(rotation, now)
    assert outlook.since == datetime(2027, 3, 13, 9, tzinfo=NEW_YORK)
    assert outlook.until == datetime(2027, 3, 14, 9, tzinfo=NEW_YORK)
    assert outlook.until is not None and outlook.since is not None
    assert outlook.until - outlook.since == timedelta(hours=23)


def test_a_person_twice_in_the_order_is_told_apart_by_position() -> None:
    rotation = daily(datetime(2027, 3, 1, 9, tzinfo=NEW_YORK), ("ada", "bo", "ada"))
    now = datetime(2027, 3, 3, 10, tzinfo=NEW_YORK)  # the third shift: position 2
    outlook = handoffs.outlook(rotation, now, 3)
    assert (outlook.on_call, outlook.position) == ("ada", 2)
    assert [(h.user_id, h.position) for h in outlook.handoffs] == [("ada", 0), ("bo", 1),
                                                                    ("ada", 2)]  # fmt: skip


def test_before_the_start_nobody_is_on_and_the_start_is_the_first_handoff() -> None:
    start = datetime(2027, 3, 1, 9, tzinfo=NEW_YORK)
    outlook = handoffs.outlook(daily(start), start - timedelta(days=3), 2)
    assert outlook.on_call is None and outlook.since is None and outlook.position is None
    assert [(h.at, h.user_id) for h in outlook.handoffs] == [
        (start, "ada"),
        (start + timedelta(days=1), "bo"),
    ]


def test_no_participants_no_outlook() -> None:
    outlook = handoffs.outlook(
        daily(datetime(2027, 3, 1, 9, tzinfo=NEW_YORK), ()), datetime.now(UTC)
    )
    assert outlook.on_call is None and outlook.handoffs == ()


def test_a_shift_longer_than_the_look_ahead_is_bounded() -> None:
    start = datetime(2020, 1, 1, 9, tzinfo=NEW_YORK)
    rotation = daily(start, type="monthly", shift_length=1000)
    now = datetime(2027, 3, 10, tzinfo=UTC)
    outlook = handoffs.outlook(rotation, now)
    assert outlook.on_call == "ada" and outlook.handoffs == ()
    assert outlook.since is None and outlook.until is None  # beyond what was looked at


def test_hourly_rotations_step_in_absolute_hours() -> None:
    start = datetime(2027, 3, 14, 0, tzinfo=NEW_YORK)
    rotation = daily(start, type="hourly", shift_length=1)
    outlook = handoffs.outlook(rotation, start + timedelta(minutes=30), 3)
    assert [h.at - start for h in outlook.handoffs] == [timedelta(hours=k) for k in (1, 2, 3)]
