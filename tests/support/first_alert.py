"""A new operator's first alert, through a running Klaxon: a service whose policy pages a
webhook channel, an alert raised through the generic ingest endpoint, the page at the local
receiver, and its acknowledge link followed as a person would (GET shows, POST acts)."""

from __future__ import annotations

from typing import Any

from tests.support.e2e import Http, raise_alert
from tests.support.fakes.webhook import WebhookReceiver
from tests.support.wait import wait_until

PAGE_TIMEOUT = 30.0  # seconds from the alert to its page at the receiver


def page_and_acknowledge(api: Http, receiver: WebhookReceiver, summary: str) -> dict[str, Any]:
    """Raise an alert that pages `receiver`, acknowledge it from the page's link; return the
    alert as the API shows it afterwards."""
    channel = api.api(
        "POST",
        "/notification-channels",
        {"name": "ops", "type": "webhook", "address": receiver.url("/ops")},
        expect=201,
    )
    step = {"delay_minutes": 5, "targets": [{"type": "channel", "id": channel["id"]}]}
    policy = api.api("POST", "/escalation-policies", {"name": "ops", "steps": [step]}, expect=201)
    service = api.api(
        "POST", "/services", {"name": "db", "escalation_policy_id": policy["id"]}, expect=201
    )
    key = api.api(
        "POST", f"/services/{service['id']}/integration-keys", {"type": "generic"}, expect=201
    )
    alert_id = raise_alert(api.port, key["token"], summary)

    def page() -> list[Any]:
        return [r for r in receiver.requests("/ops") if r.json()["kind"] == "alert"]

    (first,) = wait_until(page, PAGE_TIMEOUT, "the page at the webhook receiver")
    assert first.json()["alert"]["id"] == alert_id
    link = first.json()["links"]["acknowledge"]
    path = "/" + link.split("/", 3)[3]  # the link's path on this web process
    web = Http(api.port)
    status, body, _ = web.call("GET", path)
    assert status == 200 and b"<form" in body, body  # the template is installed and renders
    assert api.api("GET", f"/alerts/{alert_id}")["status"] == "triggered"
    status, body, _ = web.call("POST", path)
    assert status == 200, body
    return dict(api.api("GET", f"/alerts/{alert_id}"))
