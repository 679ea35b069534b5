"""The shift-swap pages through Flask's test client on real Postgres and Redis: the form
prefilled from ?start=&end= in the viewer's zone, asking, taking and withdrawing through the
forms, the buttons each person gets, and the refusals as pages (422, 403, 404, 409)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from app.http.pages.swap_forms import from_local, to_local
from tests.integration.test_web_pages import csrf_of, page_sign_in
from tests.support.swaps import iso, swap_world, tomorrow_at


@pytest.fixture
def world(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    found = swap_world(db_conn)
    db_conn.execute(
        "UPDATE users SET time_zone = 'Europe/Berlin' WHERE id = %s", (found["ids"]["alice"],)
    )
    return found


def signed_in_as(client: Any, world: dict[str, Any], name: str) -> str:
    assert page_sign_in(client, world["people"][name]).status_code == 303
    return csrf_of(client.get("/swaps").get_data(as_text=True))


def test_asking_taking_and_withdrawing_through_the_pages(
    web_app: Any, world: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    alice, carol = web_app.test_client(), web_app.test_client()
    alice_csrf = signed_in_as(alice, world, "alice")
    carol_csrf = signed_in_as(carol, world, "carol")
    base = f"/schedules/{world['schedule']}/swaps"
    start, end = tomorrow_at(10), tomorrow_at(12)
    form = alice.get(f"{base}/new", query_string={"start": iso(start), "end": iso(end)})
    html = form.get_data(as_text=True)
    assert form.status_code == 200
    # Shown in Alice's zone (Berlin: UTC+1 in winter, +2 in summer), and named.
    assert f'value="{to_local(start, "Europe/Berlin")}"' in html
    assert "From (Europe/Berlin)" in html
    fields = {"start": to_local(start, "Europe/Berlin"), "end": to_local(end, "Europe/Berlin"),
              "note": "dentist"}  # fmt: skip
    assert alice.post(base, data=fields).status_code == 403  # no CSRF token
    asked = alice.post(base, data={**fields, "csrf_token": alice_csrf})
    assert asked.status_code == 303, asked.get_data(as_text=True)
    swap_path = asked.headers["Location"].split("?")[0]
    swap_id = swap_path.rsplit("/", 1)[1]
    row = db_conn.execute(
        "SELECT start_at, end_at, note FROM shift_swaps WHERE id = %s", (swap_id,)
    ).fetchone()
    assert (row["start_at"], row["end_at"], row["note"]) == (start, end, "dentist")

    mine = alice.get(swap_path + "?did=requested").get_data(as_text=True)
    assert "Cover asked for" in mine and "Withdraw" in mine and ">Take<" not in mine
    listed = carol.get("/swaps").get_data(as_text=True)
    assert f'data-swap-id="{swap_id}"' in listed and ">Take<" in listed and "Withdraw" not in listed
    # Carol may not withdraw Alice's request: a 403 page that changes nothing.
    refused = carol.post(f"{base}/{swap_id}/withdraw", data={"csrf_token": carol_csrf})
    assert refused.status_code == 403 and "Not allowed" in refused.get_data(as_text=True)
    took = carol.post(f"{base}/{swap_id}/take", data={"csrf_token": carol_csrf, "back": "/swaps"})
    assert (took.status_code, took.headers["Location"]) == (303, "/swaps?did=taken")
    page = alice.get(base).get_data(as_text=True)
    assert re.search(r"Past requests.*swap-taken.*covered by Carol", page, re.S)
    again = carol.post(f"{base}/{swap_id}/take", data={"csrf_token": carol_csrf})
    assert again.status_code == 409 and "no longer open" in again.get_data(as_text=True)
    # A `back` that leads elsewhere is ignored.
    second = alice.post(
        base, data={**fields, "start": to_local(tomorrow_at(13), "Europe/Berlin"),
                    "end": to_local(tomorrow_at(14), "Europe/Berlin"), "csrf_token": alice_csrf},
    ).headers["Location"].split("?")[0]  # fmt: skip
    gone = alice.post(
        second + "/withdraw", data={"csrf_token": alice_csrf, "back": "https://evil.example/"}
    )
    assert gone.headers["Location"] == second + "?did=withdrawn"


def form_of(answer: Any) -> dict[str, str]:
    """The ask-for-cover form as a refused POST shows it again: the refusal and what was typed."""
    html = answer.get_data(as_text=True)
    refusal = re.search(r'<p class="error" role="alert" id="swap-refusal">(.*?)</p>', html, re.S)
    start = re.search(r'id="swap-start" type="datetime-local" name="start" value="([^"]*)"', html)
    end = re.search(r'id="swap-end" type="datetime-local" name="end" value="([^"]*)"', html)
    note = re.search(r'<textarea id="swap-note"[^>]*>(.*?)</textarea>', html, re.S)
    assert refusal and start and end and note, html[:2000]
    found = [refusal.group(1), start.group(1), end.group(1), note.group(1)]
    return dict(zip(("refusal", "start", "end", "note"), map(unescape, found), strict=True))


def test_refusals_are_pages(web_app: Any, world: dict[str, Any]) -> None:
    alice = web_app.test_client()
    csrf = signed_in_as(alice, world, "alice")
    base = f"/schedules/{world['schedule']}/swaps"
    missing = "00000000-0000-4000-8000-000000000000"
    assert alice.get(f"{base}/new", query_string={"start": "soon"}).status_code == 422
    assert alice.get(f"{base}/new", query_string={"start": "2026-01-01T00:00"}).status_code == 422
    assert alice.get(f"/schedules/{missing}/swaps").status_code == 404
    assert alice.get(f"/schedules/{missing}/swaps/new").status_code == 404
    assert alice.get(f"{base}/{missing}").status_code == 404
    bad = alice.post(base, data={"start": "tomorrow", "end": "", "note": "<b>x</b>",
                                 "csrf_token": csrf})  # fmt: skip
    assert bad.status_code == 422
    kept = form_of(bad)
    assert "start" in kept["refusal"] and kept["start"] == "tomorrow"
    assert kept["note"] == "<b>x</b>"  # escaped in the page, shown as typed
    early = {"start": to_local(tomorrow_at(7), "Europe/Berlin"),
             "end": to_local(tomorrow_at(10), "Europe/Berlin"), "note": "dentist",
             "csrf_token": csrf}  # fmt: skip
    not_on_call = alice.post(base, data=early)
    assert not_on_call.status_code == 409
    kept = form_of(not_on_call)
    # The first instant she is not on call, in her zone as the form is: 07:00 UTC is 08:00.
    since = tomorrow_at(7).astimezone(ZoneInfo("Europe/Berlin")).strftime("%a %d %b %Y %H:%M")
    assert f"not on call in this schedule from {since} (Europe/Berlin)" in kept["refusal"]
    assert (kept["start"], kept["end"], kept["note"]) == (early["start"], early["end"], "dentist")
    too_long = alice.post(base, data={**early, "note": "n" * 1001})
    assert too_long.status_code == 422 and "note" in form_of(too_long)["refusal"]
    assert len(form_of(too_long)["note"]) <= 1000
    assert web_app.test_client().get("/swaps").status_code == 303  # signed out: to /login


def test_local_times_resolve_across_daylight_saving_changes() -> None:
    # 02:30 on 2026-03-29 does not exist in Berlin: the gap's end, 03:00 CEST = 01:00 UTC.
    assert iso(from_local("start", "2026-03-29T02:30", "Europe/Berlin")) == "2026-03-29T01:00:00Z"
    # 02:30 on 2026-10-25 happens twice: the first (CEST), 00:30 UTC.
    assert iso(from_local("start", "2026-10-25T02:30", "Europe/Berlin")) == "2026-10-25T00:30:00Z"
    with pytest.raises(Exception, match="date and time"):
        from_local("start", "2026-10-25", "Europe/Berlin")
    with pytest.raises(Exception, match="real date"):
        from_local("start", "2026-02-30T10:00", "Europe/Berlin")
