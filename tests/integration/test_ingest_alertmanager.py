"""Alertmanager's webhook (version 4), from captured and source-shaped payloads: one alert per
entry keyed by fingerprint, so a resolved entry closes exactly what fired."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from tests.fixtures.ingest import alerts, error_of, load, new_key, raw, row_counts

URL = "/api/v2/prometheusalertmanager/incoming"


@pytest.fixture
def service(make_service: Any) -> dict[str, Any]:
    return make_service()


@pytest.fixture
def token(db_conn: Any, service: dict[str, Any]) -> str:
    return new_key(db_conn, service["id"], "prometheusAlertmanager")


def post(client: Any, token: str, body: bytes | dict[str, Any], **kwargs: Any) -> Any:
    """As Alertmanager posts: application/json, the key as a Bearer credential."""
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "Alertmanager/0.27.0"}
    if isinstance(body, bytes):
        return client.post(URL, data=body, content_type="application/json", headers=headers)
    return client.post(URL, json=body, headers=headers, **kwargs)


def statuses(db_conn: Any) -> dict[str, str]:
    """dedup key -> status of every alert."""
    return {a["dedup_key"]: a["status"] for a in alerts(db_conn)}


def test_firing_group_opens_one_alert_per_entry(client, db_conn, token):
    response = post(client, token, raw("alertmanager_firing.json"))
    assert response.status_code == 200
    assert response.get_json()["created"] == 2
    rows = {a["dedup_key"]: a for a in alerts(db_conn)}
    assert set(rows) == {"user:am:791cec13fcba0368", "user:am:8df98227bdd81384"}
    first = rows["user:am:791cec13fcba0368"]
    assert first["summary"] == "Instance 127.0.0.1:9090 down"
    assert first["source"] == "prometheusAlertmanager"
    assert "Started: 2020-08-08T14:32:08.326990857Z" in first["details"]
    assert "Source: http://pop-os:9090/graph?g0.expr=promhttp_metric_handler" in first["details"]
    assert "Alertmanager: http://pop-os:9093" in first["details"]
    assert "- instance: 127.0.0.1:9090" in first["details"]
    assert "- details: 127.0.0.1:9090 of job prometheus has been down" in first["details"]
    assert "Receiver: goalert" in first["details"]


def test_repeat_notifications_count_duplicates(client, db_conn, token):
    for _ in range(3):
        post(client, token, raw("alertmanager_firing.json"))
    assert [a["duplicate_count"] for a in alerts(db_conn)] == [2, 2]


def test_firing_then_resolved_closes_both(client, db_conn, token):
    post(client, token, raw("alertmanager_firing.json"))
    response = post(client, token, raw("alertmanager_resolved.json"))
    assert response.get_json()["closed"] == 2
    assert set(statuses(db_conn).values()) == {"closed"}


def test_group_membership_changing_between_firing_and_resolved(client, db_conn, token):
    """web-1 and web-2 fire; web-1 resolves as web-3 joins; then the rest resolve."""
    post(client, token, raw("alertmanager_group_1_firing.json"))
    assert list(statuses(db_conn).values()) == ["triggered", "triggered"]

    changed = post(client, token, raw("alertmanager_group_2_changed.json")).get_json()
    assert (changed["created"], changed["duplicates"], changed["closed"]) == (1, 1, 1)
    summaries = {a["summary"]: a["status"] for a in alerts(db_conn)}
    assert summaries == {
        "High request latency on web-1:8080": "closed",
        "High request latency on web-2:8080": "triggered",
        "High request latency on web-3:8080": "triggered",
    }

    post(client, token, raw("alertmanager_group_3_resolved.json"))
    assert {a["status"] for a in alerts(db_conn)} == {"closed"}
    assert len(alerts(db_conn)) == 3


def test_refiring_after_resolution_opens_a_new_alert(client, db_conn, token):
    post(client, token, raw("alertmanager_firing.json"))
    post(client, token, raw("alertmanager_resolved.json"))
    post(client, token, raw("alertmanager_firing.json"))
    assert sorted(a["status"] for a in alerts(db_conn)) == [
        "closed",
        "closed",
        "triggered",
        "triggered",
    ]


@pytest.mark.parametrize(
    ("annotations", "labels", "summary"),
    [
        ({"summary": "S", "description": "D"}, {"alertname": "A", "instance": "i"}, "S"),
        ({"description": "D\nmore"}, {"alertname": "A", "instance": "i"}, "D more"),
        ({}, {"alertname": "A", "instance": "i:9100"}, "A i:9100"),
        ({}, {"alertname": "A"}, "A"),
        ({}, {}, "Alertmanager alert 0123456789abcdef"),
    ],
)
def test_summary_fallbacks(client, db_conn, token, annotations, labels, summary):
    payload = load("alertmanager_firing.json")
    payload["alerts"] = [
        payload["alerts"][0]
        | {"annotations": annotations, "labels": labels, "fingerprint": "0123456789abcdef"}
    ]
    assert post(client, token, payload).status_code == 200
    assert alerts(db_conn)[0]["summary"] == summary


def test_description_used_as_summary_is_not_repeated_in_details(client, db_conn, token):
    payload = load("alertmanager_firing.json")
    payload["alerts"] = [payload["alerts"][0] | {"annotations": {"description": "Only this"}}]
    post(client, token, payload)
    assert "Only this" not in alerts(db_conn)[0]["details"]


def test_unknown_payload_version_is_still_read(client, db_conn, token):
    payload = load("alertmanager_firing.json") | {"version": "5", "notification_reason": "new"}
    assert post(client, token, payload).status_code == 200
    assert len(alerts(db_conn)) == 2


def test_basic_auth_password_as_alertmanager_http_config_sends_it(client, db_conn, token):
    credentials = base64.b64encode(f"alertmanager:{token}".encode()).decode()
    response = client.post(
        URL,
        data=raw("alertmanager_firing.json"),
        content_type="application/json",
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert response.status_code == 200
    assert len(alerts(db_conn)) == 2


def test_a_huge_group_within_the_body_limit_is_written_whole(client, db_conn, token):
    payload = load("alertmanager_firing.json")
    template = payload["alerts"][0]
    payload["alerts"] = [copy.deepcopy(template) | {"fingerprint": f"{i:016x}"} for i in range(300)]
    response = post(client, token, payload)
    assert response.status_code == 200
    assert response.get_json()["created"] == 300


def alerts_with(change: Any) -> dict[str, Any]:
    payload = copy.deepcopy(load("alertmanager_firing.json"))
    change(payload)
    return payload


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (alerts_with(lambda p: p.pop("alerts")), "alerts"),
        (alerts_with(lambda p: p.update(alerts=None)), "alerts"),
        (alerts_with(lambda p: p.update(alerts="firing")), "alerts"),
        (alerts_with(lambda p: p.update(alerts=[[]])), "alerts[0]"),
        (alerts_with(lambda p: p.update(status=["firing"])), "status"),
        (alerts_with(lambda p: p.update(externalURL=9093)), "externalURL"),
        (alerts_with(lambda p: p["alerts"][1].update(status="silenced")), "alerts[1].status"),
        (alerts_with(lambda p: p["alerts"][1].pop("status")), "alerts[1].status"),
        (alerts_with(lambda p: p["alerts"][0].update(labels="a=b")), "alerts[0].labels"),
        (
            alerts_with(lambda p: p["alerts"][0]["annotations"].update(x=None)),
            "alerts[0].annotations.x",
        ),
        (alerts_with(lambda p: p["alerts"][0].update(startsAt=1596897128)), "alerts[0].startsAt"),
        (alerts_with(lambda p: p["alerts"][0].update(fingerprint=False)), "alerts[0].fingerprint"),
    ],
)
def test_wrong_shapes_are_a_400_naming_the_field_and_write_nothing(
    client, db_conn, token, payload, field
):
    before = row_counts(db_conn)
    response = post(client, token, payload)
    assert response.status_code == 400, response.get_json()
    assert error_of(response)["details"]["field"] == field
    assert row_counts(db_conn) == before


def test_a_huge_bad_value_is_quoted_clipped_in_the_error(client, db_conn, token):
    payload = load("alertmanager_firing.json")
    payload["alerts"][0]["status"] = "x" * 100_000
    response = post(client, token, payload)
    assert response.status_code == 400
    assert len(error_of(response)["error"]) < 120
