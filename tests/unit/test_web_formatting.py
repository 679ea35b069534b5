"""How the web app shows times, details and log entries (app.http.pages.formatting)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.http.pages.formatting import describe, markdown, via, when

MOMENT = datetime(2026, 1, 15, 12, 30, tzinfo=UTC)


def test_a_time_is_shown_in_the_profile_zone_and_named() -> None:
    shown = str(when(MOMENT, "Europe/Berlin"))
    assert ">2026-01-15 13:30:00 CET</time>" in shown
    assert 'datetime="2026-01-15T12:30:00+00:00"' in shown
    assert "data-local" not in shown


def test_the_default_zone_hands_the_time_to_the_browser() -> None:
    shown = str(when(MOMENT, "UTC"))
    assert 'data-local="1"' in shown and "12:30:00 UTC" in shown


def test_an_unknown_zone_falls_back_to_utc_and_nothing_is_missing() -> None:
    assert "12:30:00 UTC" in str(when(MOMENT, "Mars/Olympus"))
    assert str(when(None, "UTC")) == "—"


def test_markdown_keeps_formatting_and_escapes_html() -> None:
    html = str(markdown("**bold** <img src=x onerror=alert(1)>\n\n[a](javascript:alert(1))"))
    assert "<strong>bold</strong>" in html
    assert "<img" not in html and "&lt;img" in html
    assert 'href="javascript:' not in html


def test_a_log_entry_says_who_acted_and_how() -> None:
    names = {"u1": "Ada"}
    web = {"event": "acknowledged", "actor_type": "user", "actor_id": "u1", "meta": {"via": "web"}}
    assert describe(web, names) == "acknowledged by Ada via web"
    link = {**web, "event": "closed", "meta": {"via": "email", "link": True}}
    assert describe(link, names) == "closed by Ada via email link"
    api = {"event": "closed", "actor_type": "api_key", "actor_id": "k", "meta": {}}
    assert describe(api, names) == "closed via API"
    sms = {**web, "meta": {"via": "sms"}}
    assert via(sms) == "SMS"
    dup = {"event": "duplicate_suppressed", "actor_type": "system", "actor_id": None,
           "meta": {"count": 3}}  # fmt: skip
    assert describe(dup, names) == "duplicate received (3 times)"
