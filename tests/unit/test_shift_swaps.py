"""Shift swaps' pure parts: whether a person's shifts cover a stretch, an open swap's expiry,
the span check, and the message a swap sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.messages.render import _swap_text
from app.oncall import swaps
from app.oncall.model import Shift
from app.platform.errors import ValidationFailed

T0 = datetime(2026, 3, 28, 12, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_back_to_back_and_overlapping_shifts_cover_a_stretch() -> None:
    shifts = [Shift(at(0), at(2), "a"), Shift(at(1), at(4), "a"), Shift(at(4), at(6), "a"),
              Shift(at(2), at(9), "b")]  # fmt: skip
    assert swaps.uncovered(shifts, "a", at(0), at(6)) is None
    assert swaps.uncovered(shifts, "a", at(3), at(5)) is None
    assert swaps.uncovered(shifts, "a", at(5), at(7)) == at(6)  # runs out at 6
    assert swaps.uncovered(shifts, "a", at(-1), at(1)) == at(-1)  # not yet on call
    assert swaps.uncovered(shifts, "b", at(0), at(3)) == at(0)
    assert swaps.uncovered(
        [Shift(at(0), at(1), "a"), Shift(at(2), at(3), "a")], "a", at(0), at(3)
    ) == at(1)
    assert swaps.uncovered([], "a", at(0), at(1)) == at(0)


def test_an_open_swap_expires_when_its_end_passes() -> None:
    row: dict[str, Any] = {"status": "open", "end": at(2)}
    assert swaps.status_of(row, at(1)) == "open"
    assert swaps.status_of(row, at(2)) == "expired"
    assert swaps.status_of({**row, "status": "taken"}, at(3)) == "taken"


def test_the_span_check_names_end_and_moves_a_past_start_to_now() -> None:
    assert swaps.check_span(at(-1), at(2), at(0)) == at(0)
    assert swaps.check_span(at(1), at(2), at(0)) == at(1)
    for start, end in ((at(2), at(1)), (at(-3), at(-1)), (at(1), at(1) + timedelta(days=32))):
        with pytest.raises(ValidationFailed) as refused:
            swaps.check_span(start, end, at(0))
        assert refused.value.details["errors"][0]["field"] == "end"


def test_the_message_names_the_people_and_the_span_in_the_schedules_zone() -> None:
    payload = {
        "event": "requested", "schedule_name": "Primary", "time_zone": "Europe/Berlin",
        "requester": {"id": "1", "name": "Alice"}, "taker": None,
        "start": "2026-03-29T00:00:00+00:00", "end": "2026-03-29T03:00:00+00:00",
        "note": "dentist", "url": "https://k.example/schedules/s/swaps/w",
    }  # fmt: skip
    row = {"schedule_name": None}
    subject, text = _swap_text(row, None, payload)
    # Berlin springs forward at 02:00 that night: 01:00 CET to 05:00 CEST.
    assert subject == "[Klaxon] Cover wanted for Primary: 2026-03-29 01:00 to 05:00 CEST"
    assert text.startswith("Alice asks for cover in Primary, 2026-03-29 01:00 to 05:00 CEST.")
    assert "dentist" in text and text.endswith(payload["url"])
    taken = {**payload, "event": "taken", "taker": {"id": "2", "name": "Carol"}}
    assert _swap_text(row, None, taken)[1].startswith("Carol covers Alice in Primary")
    assert _swap_text(row, None, {**payload, "event": "withdrawn"})[0].startswith(
        "[Klaxon] Cover no longer wanted"
    )
