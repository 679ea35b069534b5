"""The pure parts of ingest, no database: token locations, text cleaning, payload parsing."""

from __future__ import annotations

import base64

import pytest
from werkzeug.datastructures import MultiDict

from app.ingest import alertmanager, generic, grafana, text
from app.ingest.credentials import find_token, from_authorization
from app.ingest.errors import BadRequest
from tests.fixtures.ingest import load


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer kli_a_b", "kli_a_b"),
        ("BEARER   kli_a_b  ", "kli_a_b"),
        ("kli_a_b", "kli_a_b"),  # bare, as GoAlert takes it
        (basic("user:kli_a_b"), "kli_a_b"),
        (basic("user:pass:with:colons"), "pass:with:colons"),
        (basic("kli_a_b:"), "kli_a_b"),
        (basic(":"), None),
        ("Basic !!!not-base64", None),
        ("Digest username=x", None),
        ("Bearer", None),
        ("", None),
    ],
)
def test_authorization_header_forms(header, token):
    assert from_authorization(header) == token


def test_field_order_is_goalerts_and_form_wins_over_query():
    query = MultiDict([("key", "from-query-key"), ("integration_key", "q-ik")])
    form = MultiDict([("integration_key", "form-ik")])
    # GoAlert checks token, integrationKey, integration_key, key in that order, each in the
    # body form first and then the query.
    assert find_token(query, form, "Bearer header") == "form-ik"
    assert find_token(MultiDict(), MultiDict(), "Bearer header") == "header"
    assert find_token(MultiDict([("token", "  ")]), MultiDict(), None) is None


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain", "plain"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("nul\x00bell\x07esc\x1b", "nulbellesc"),
        ("c1\x85nel\x9bcsi", "c1 nelcsi"),
        ("nbsp\u00a0thin\u2009ideographic\u3000", "nbsp thin ideographic "),
        ("rtl\u202eoverride\u2066isolate\u2069", "rtloverrideisolate"),
        ("lone\ud800surrogate", "lonesurrogate"),
        ("bom\ufeff", "bom"),
        ("zwj 👩\u200d💻 kept", "zwj 👩\u200d💻 kept"),
    ],
)
def test_clean_strips_control_characters_only(raw, clean):
    assert text.clean(raw) == clean


def test_sanitize_trims_lines_and_collapses_blank_runs():
    assert text.sanitize("  a  \r\n\n\n\n b \t\n") == "a\n\n b"


def test_generic_parse_is_pure_and_reports_the_field():
    event = generic.parse(MultiDict([("summary", "s"), ("meta", "a=1")]), MultiDict(), None)
    assert (event.action, event.summary, event.dedup, dict(event.meta)) == (
        "trigger",
        "s",
        None,
        {"a": "1"},
    )
    with pytest.raises(BadRequest) as caught:
        generic.parse(MultiDict(), MultiDict(), {"summary": 1})
    assert caught.value.details == {"field": "summary"}


def test_grafana_and_alertmanager_fixtures_parse_to_one_event_per_alert():
    events = grafana.parse(load("grafana_unified_firing.json"))
    assert [(e.action, e.dedup) for e in events] == [
        ("trigger", "grafana:c6eadffa33fcdf37"),
        ("trigger", "grafana:bc97ff14869b13e3"),
    ]
    changed = alertmanager.parse(load("alertmanager_group_2_changed.json"))
    assert [e.action for e in changed] == ["trigger", "trigger", "close"]
    assert len({e.dedup for e in changed}) == 3
