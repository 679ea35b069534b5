"""Grafana's webhooks, from its documented payloads: unified alerting (one alert per entry,
keyed by fingerprint) and the legacy format (keyed by rule)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.ingest.prometheus_alerts import label_fingerprint
from tests.fixtures.ingest import alerts, error_of, load, new_key, raw, row_counts

URL = "/api/v2/grafana/incoming"


@pytest.fixture
def service(make_service: Any) -> dict[str, Any]:
    return make_service()


@pytest.fixture
def token(db_conn: Any, service: dict[str, Any]) -> str:
    return new_key(db_conn, service["id"], "grafana")


def post(client: Any, token: str, body: bytes | dict[str, Any], **kwargs: Any) -> Any:
    data = body if isinstance(body, bytes) else None
    json_body = body if isinstance(body, dict) else None
    return client.post(
        f"{URL}?token={token}",
        data=data,
        json=json_body,
        content_type="application/json",
        **kwargs,
    )


def by_summary(db_conn: Any, summary: str) -> dict[str, Any]:
    (alert,) = [a for a in alerts(db_conn) if a["summary"] == summary]
    return alert


# ---- unified alerting -------------------------------------------------------------------------


def test_unified_firing_opens_one_alert_per_entry(client, db_conn, token):
    response = post(client, token, raw("grafana_unified_firing.json"))
    assert response.status_code == 200
    assert response.get_json() == {
        "received": 2,
        "created": 2,
        "duplicates": 0,
        "acknowledged": 0,
        "closed": 0,
    }
    rows = sorted(alerts(db_conn), key=lambda a: a["summary"], reverse=True)
    assert [(a["summary"], a["dedup_key"], a["status"], a["source"]) for a in rows] == [
        (
            "This alert was triggered for zone us-1",
            "user:grafana:c6eadffa33fcdf37",
            "triggered",
            "grafana",
        ),
        (
            "This alert was triggered for zone eu-1",
            "user:grafana:bc97ff14869b13e3",
            "triggered",
            "grafana",
        ),
    ]


def test_unified_details_carry_description_values_links_labels_annotations(client, db_conn, token):
    post(client, token, raw("grafana_unified_firing.json"))
    details = by_summary(db_conn, "This alert was triggered for zone us-1")["details"]
    assert details.startswith("The system has high memory usage\n\nValues: B=44.2394, C=1\n\n")
    assert "Source: https://play.grafana.org/alerting/1afz29v7z/edit" in details
    assert "Silence: https://play.grafana.org/alerting/silence/new?" in details
    assert "Dashboard:" not in details  # empty links are left out
    assert "Labels:\n- alertname: High memory usage\n- team: blue\n- zone: us-1" in details
    assert "Annotations:\n- runbook_url: https://myrunbook.com/runbook/1234" in details


def test_grafana_9_value_string_is_shown(client, db_conn, token):
    assert post(client, token, raw("grafana_9_valuestring.json")).status_code == 200
    details = by_summary(db_conn, "This alert was triggered for zone us-1")["details"]
    assert "Values: [ metric='' labels={} value=14151.331895396988 ]" in details


def test_unified_firing_then_resolved_closes_exactly_that_alert(client, db_conn, token):
    post(client, token, raw("grafana_unified_firing.json"))
    post(client, token, raw("grafana_unified_firing.json"))  # a repeat notification
    response = post(client, token, raw("grafana_unified_resolved.json"))
    assert response.get_json()["closed"] == 1
    rows = sorted(alerts(db_conn), key=lambda a: a["dedup_key"])
    assert [(a["dedup_key"], a["status"], a["duplicate_count"]) for a in rows] == [
        ("user:grafana:bc97ff14869b13e3", "triggered", 1),
        ("user:grafana:c6eadffa33fcdf37", "closed", 1),
    ]


def test_resolved_for_an_alert_never_seen_is_a_success(client, db_conn, token):
    response = post(client, token, raw("grafana_unified_resolved.json"))
    assert response.status_code == 200
    assert response.get_json()["closed"] == 0
    assert alerts(db_conn) == []


def test_summary_falls_back_to_alertname_then_fingerprint(client, db_conn, token):
    payload = load("grafana_unified_firing.json")
    del payload["alerts"][0]["annotations"]["summary"]
    payload["alerts"][1]["annotations"] = {}
    payload["alerts"][1]["labels"] = {}
    post(client, token, payload)
    assert sorted(a["summary"] for a in alerts(db_conn)) == [
        "Grafana alert bc97ff14869b13e3",
        "High memory usage",
    ]


def test_missing_fingerprint_is_derived_from_labels(client, db_conn, token):
    payload = load("grafana_unified_firing.json")
    labels = payload["alerts"][0]["labels"]
    for entry in payload["alerts"]:
        entry.pop("fingerprint")
    post(client, token, payload)
    assert by_summary(db_conn, "This alert was triggered for zone us-1")["dedup_key"] == (
        f"user:grafana:{label_fingerprint(labels)}"
    )


def test_empty_alert_list_is_accepted(client, db_conn, token):
    payload = load("grafana_unified_firing.json")
    payload["alerts"] = []
    response = post(client, token, payload)
    assert response.status_code == 200
    assert response.get_json()["received"] == 0


# ---- legacy alerting ----------------------------------------------------------------------


def test_legacy_alerting_then_ok_round_trip(client, db_conn, token):
    assert post(client, token, raw("grafana_legacy_alerting.json")).status_code == 200
    alert = alerts(db_conn)[0]
    assert alert["summary"] == "Panel Title alert"
    assert alert["dedup_key"] == "user:grafana-rule:1"
    assert alert["details"].startswith("Notification Message\n\nMatches:\n- Count: 1\n\n")
    assert (
        "Rule: http://localhost:3000/d/hZ7BuVbWz/test-dashboard?fullscreen&edit" in alert["details"]
    )
    assert "Tags:\n- tag name: tag value" in alert["details"]
    post(client, token, raw("grafana_legacy_ok.json"))
    assert alerts(db_conn)[0]["status"] == "closed"


@pytest.mark.parametrize("state", ["no_data", "paused", "pending"])
def test_legacy_states_that_change_nothing(client, db_conn, token, state):
    payload = load("grafana_legacy_no_data.json") | {"state": state}
    response = post(client, token, payload)
    assert response.status_code == 200
    assert response.get_json()["received"] == 0
    assert alerts(db_conn) == []


def test_legacy_dedup_query_field_is_honoured_as_in_goalert(client, db_conn, token):
    client.post(
        f"{URL}?token={token}&dedup=my-rule",
        data=raw("grafana_legacy_alerting.json"),
        content_type="application/json",
    )
    assert alerts(db_conn)[0]["dedup_key"] == "user:my-rule"


def test_legacy_without_rule_id_is_keyed_by_rule_name(client, db_conn, token):
    payload = load("grafana_legacy_alerting.json")
    del payload["ruleId"]
    post(client, token, payload)
    post(client, token, payload | {"state": "ok"})
    alert = alerts(db_conn)[0]
    assert (alert["dedup_key"], alert["status"]) == (
        "user:grafana-rule:Panel Title alert",
        "closed",
    )


# ---- bad input ------------------------------------------------------------------------------


def firing_with(change: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("grafana_unified_firing.json"))
    change(payload)
    return payload


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (firing_with(lambda p: p.update(version="2")), "version"),
        (firing_with(lambda p: p.update(alerts={"0": {}})), "alerts"),
        (firing_with(lambda p: p.pop("alerts")), "alerts"),
        (firing_with(lambda p: p["alerts"].append("firing")), "alerts[2]"),
        (firing_with(lambda p: p["alerts"][1].update(status="pending")), "alerts[1].status"),
        (firing_with(lambda p: p["alerts"][0].update(labels=["a"])), "alerts[0].labels"),
        (firing_with(lambda p: p["alerts"][0]["labels"].update(zone=1)), "alerts[0].labels.zone"),
        (firing_with(lambda p: p["alerts"][0].update(fingerprint=7)), "alerts[0].fingerprint"),
        (firing_with(lambda p: p["alerts"][0].update(generatorURL={})), "alerts[0].generatorURL"),
        (load("grafana_legacy_alerting.json") | {"state": "exploded"}, "state"),
        (load("grafana_legacy_alerting.json") | {"ruleId": "one"}, "ruleId"),
        (load("grafana_legacy_alerting.json") | {"ruleName": ["x"]}, "ruleName"),
        (load("grafana_legacy_alerting.json") | {"evalMatches": {}}, "evalMatches"),
        ({"state": "alerting"}, "ruleName"),
    ],
)
def test_wrong_shapes_are_a_400_naming_the_field_and_write_nothing(
    client, db_conn, token, payload, field
):
    before = row_counts(db_conn)
    response = post(client, token, payload)
    assert response.status_code == 400, response.get_json()
    assert error_of(response)["details"]["field"] == field
    assert field.split(".")[0].split("[")[0] in error_of(response)["error"]
    assert row_counts(db_conn) == before


def test_one_bad_entry_rejects_the_whole_notification(client, db_conn, token):
    payload = firing_with(lambda p: p["alerts"][1].update(status="weird"))
    assert post(client, token, payload).status_code == 400
    assert alerts(db_conn) == []
