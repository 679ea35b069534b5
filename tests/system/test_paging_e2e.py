"""End to end, as a user runs Klaxon: web (gunicorn), `klaxon engine` and `klaxon worker` as
real processes, people and policies made through the REST API, alerts raised through the ingest
endpoint, pages arriving at local receivers. A policy "minute" is shortened with
KLAXON_MINUTE_SECONDS so escalation timing is real but quick."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.e2e import Http, raise_alert
from tests.support.fakes.webhook import Received, WebhookReceiver
from tests.support.procs import KlaxonProcess
from tests.support.wait import wait_until

pytestmark = pytest.mark.system

MINUTE = 0.5  # seconds per policy/rule minute in these tests
PAGE_TIMEOUT = 20.0  # seconds a page may take to arrive, far beyond what it should


def verified_webhook(
    api: Http, receiver: WebhookReceiver, user_id: str, path: str, **fields: Any
) -> dict[str, Any]:
    """A webhook contact method at `receiver` + `path`, verified with the code it was sent."""
    method = api.api(
        "POST",
        f"/users/{user_id}/contact-methods",
        {"name": path, "type": "webhook", "address": receiver.url(path), **fields},
        expect=201,
    )
    (request,) = receiver.wait_for(1, path, timeout=PAGE_TIMEOUT)
    assert request.json()["kind"] == "verification"
    code = request.json()["code"]
    api.api("POST", f"/users/{user_id}/contact-methods/{method['id']}/verify", {"code": code})
    return dict(method)


def pages(receiver: WebhookReceiver, path: str, kind: str = "alert") -> list[Received]:
    return [r for r in receiver.requests(path) if r.json()["kind"] == kind]


def pages_for(receiver: WebhookReceiver, path: str, alert_id: str) -> list[Received]:
    return [r for r in pages(receiver, path) if r.json()["alert"]["id"] == alert_id]


@pytest.fixture
def system(
    klaxon_env: dict[str, str],
    start_web: Callable[..., tuple[KlaxonProcess, int]],
    start_engine: Callable[..., KlaxonProcess],
    start_worker: Callable[..., KlaxonProcess],
    make_api_key: Callable[[str], str],
) -> dict[str, Any]:
    """web, engine and worker running; an admin API client; the env they share."""
    web_env = {**klaxon_env, "KLAXON_MINUTE_SECONDS": str(MINUTE)}
    _web, port = start_web(web_env)
    env = {
        **web_env,
        "KLAXON_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "KLAXON_ENGINE_CYCLE": "30",  # long: every prompt action must come from NOTIFY or due times
    }
    start_engine(env)
    start_worker(env)
    return {"api": Http(port, make_api_key("admin")), "port": port, "env": env}


def test_an_alert_escalates_step_by_step_with_repeats_then_stops(
    system: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    api: Http = system["api"]
    alice = api.api("POST", "/users", {"name": "Alice", "email": "alice@example.com"}, expect=201)
    bob = api.api("POST", "/users", {"name": "Bob", "email": "bob@example.com"}, expect=201)
    for user, path in ((alice, "/alice"), (bob, "/bob")):
        method = verified_webhook(api, webhook_receiver, user["id"], path)
        api.api(
            "POST",
            f"/users/{user['id']}/notification-rules",
            {"contact_method_id": method["id"], "delay_minutes": 0},
            expect=201,
        )
    channel = api.api(
        "POST",
        "/notification-channels",
        {"name": "ops", "type": "webhook", "address": webhook_receiver.url("/ops")},
        expect=201,
    )
    policy = api.api(
        "POST",
        "/escalation-policies",
        {
            "name": "ops",
            "repeat_count": 1,
            "steps": [
                {
                    "delay_minutes": 4,
                    "targets": [
                        {"type": "user", "id": alice["id"]},
                        {"type": "channel", "id": channel["id"]},
                    ],
                },
                {"delay_minutes": 4, "targets": [{"type": "user", "id": bob["id"]}]},
            ],
        },
        expect=201,
    )
    service = api.api(
        "POST", "/services", {"name": "db", "escalation_policy_id": policy["id"]}, expect=201
    )
    key = api.api(
        "POST", f"/services/{service['id']}/integration-keys", {"type": "generic"}, expect=201
    )

    raised = time.monotonic()
    alert_id = raise_alert(system["port"], key["token"], "disk full on db-1")

    # Step 0 at once: Alice and the channel. Then Bob after 4 minutes, then the repeat.
    wait_until(lambda: pages_for(webhook_receiver, "/alice", alert_id), PAGE_TIMEOUT, "Alice paged")
    assert time.monotonic() - raised < 4 * MINUTE, "step 0 must not wait for the step delay"
    wait_until(lambda: pages_for(webhook_receiver, "/ops", alert_id), PAGE_TIMEOUT, "channel paged")
    wait_until(lambda: pages_for(webhook_receiver, "/bob", alert_id), PAGE_TIMEOUT, "Bob paged")
    wait_until(
        lambda: len(pages_for(webhook_receiver, "/bob", alert_id)) == 2,
        PAGE_TIMEOUT,
        "the repeat reaching Bob again",
    )
    alice_pages = pages_for(webhook_receiver, "/alice", alert_id)
    bob_pages = pages_for(webhook_receiver, "/bob", alert_id)
    assert len(alice_pages) == 2  # first pass and the one repeat
    # Each step waited for the previous step's delay (with slack for clocks, none for early).
    order = sorted(
        [("alice", r.at) for r in alice_pages] + [("bob", r.at) for r in bob_pages],
        key=lambda p: p[1],
    )
    assert [who for who, _ in order] == ["alice", "bob", "alice", "bob"]
    for (_, earlier), (_, later) in itertools.pairwise(order):
        assert later - earlier >= 4 * MINUTE * 0.9
    # Every page is a distinct message, each id received once.
    ids = [r.headers["x-klaxon-message-id"] for r in webhook_receiver.requests()]
    assert len(ids) == len(set(ids))

    detail = api.api("GET", f"/alerts/{alert_id}")
    events = [entry["event"] for entry in detail["log"]]
    assert events.count("escalated") == 4
    assert "notification_sent" in events


def test_acknowledging_through_the_link_stops_the_pages_and_close_sends_status_updates(
    system: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    api: Http = system["api"]
    alice = api.api("POST", "/users", {"name": "Alice", "email": "alice@example.com"}, expect=201)
    bob = api.api("POST", "/users", {"name": "Bob", "email": "bob@example.com"}, expect=201)
    alice_hook = verified_webhook(api, webhook_receiver, alice["id"], "/alice", status_updates=True)
    bob_hook = verified_webhook(api, webhook_receiver, bob["id"], "/bob")  # no status updates
    for user, method in ((alice, alice_hook), (bob, bob_hook)):
        api.api(
            "POST",
            f"/users/{user['id']}/notification-rules",
            {"contact_method_id": method["id"], "delay_minutes": 0},
            expect=201,
        )
    policy = api.api(
        "POST",
        "/escalation-policies",
        {
            "name": "two steps",
            "steps": [
                {"delay_minutes": 2, "targets": [{"type": "user", "id": alice["id"]}]},
                {"delay_minutes": 2, "targets": [{"type": "user", "id": bob["id"]}]},
            ],
        },
        expect=201,
    )
    service = api.api(
        "POST", "/services", {"name": "api", "escalation_policy_id": policy["id"]}, expect=201
    )
    key = api.api(
        "POST", f"/services/{service['id']}/integration-keys", {"type": "generic"}, expect=201
    )
    port = system["port"]

    acked = raise_alert(port, key["token"], "api latency high")
    (page,) = wait_until(lambda: pages_for(webhook_receiver, "/alice", acked), PAGE_TIMEOUT, "page")
    link = page.json()["links"]["acknowledge"]
    path = link.split(str(port), 1)[1]
    web = Http(port)

    # A GET (a link preview, a curious click) only shows a confirmation page.
    status, body, _ = web.call("GET", path)
    assert status == 200 and b"<form" in body
    assert api.api("GET", f"/alerts/{acked}")["status"] == "triggered"
    status, _, _ = web.call("POST", path)
    assert status == 200
    alert = api.api("GET", f"/alerts/{acked}")
    assert alert["status"] == "acknowledged"
    ack_entry = next(e for e in alert["log"] if e["event"] == "acknowledged")
    assert ack_entry["actor_type"] == "user" and ack_entry["actor_id"] == alice["id"]
    assert ack_entry["meta"]["via"] == "webhook"

    # A control alert raised after the acknowledgement reaches its second step (Bob): by then
    # the acknowledged alert's second step would have fired too, had it not been stopped.
    control = raise_alert(port, key["token"], "control alert")
    wait_until(lambda: pages_for(webhook_receiver, "/bob", control), PAGE_TIMEOUT, "control at Bob")
    assert pages_for(webhook_receiver, "/bob", acked) == []

    def notices() -> list[tuple[str, str]]:
        found = pages(webhook_receiver, "/alice", kind="status_update")
        return [(r.json()["alert"]["id"], r.json()["status"]) for r in found]

    # Alice acknowledged it herself, so she is not told of that; the close comes through the
    # API (another actor), so she is told of it.
    api.api("POST", f"/alerts/{acked}/close")
    wait_until(lambda: (acked, "closed") in notices(), PAGE_TIMEOUT, "close notice to Alice")
    assert [n for n in notices() if n[0] == acked] == [(acked, "closed")]
    assert pages(webhook_receiver, "/bob", kind="status_update") == []  # Bob did not opt in


def test_a_step_targeting_a_schedule_pages_exactly_who_is_on_call_now(
    system: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    """Issue 5: the schedule has Carol on call by its rule, but an override replaces her with
    Dan for the hour around now; Erin is in no shift. Only Dan is paged."""
    api: Http = system["api"]
    people = {}
    for name in ("carol", "dan", "erin"):
        user = api.api(
            "POST", "/users", {"name": name.title(), "email": f"{name}@example.com"}, expect=201
        )
        method = verified_webhook(api, webhook_receiver, user["id"], f"/{name}")
        api.api(
            "POST",
            f"/users/{user['id']}/notification-rules",
            {"contact_method_id": method["id"], "delay_minutes": 0},
            expect=201,
        )
        people[name] = user
    schedule = api.api(
        "POST", "/schedules", {"name": "primary", "time_zone": "Europe/London"}, expect=201
    )
    api.api(
        "POST",
        f"/schedules/{schedule['id']}/rules",
        {"target_type": "user", "target_id": people["carol"]["id"]},
        expect=201,
    )
    now = time.time()
    api.api(
        "POST",
        f"/schedules/{schedule['id']}/overrides",
        {
            "kind": "replace",
            "remove_user_id": people["carol"]["id"],
            "add_user_id": people["dan"]["id"],
            "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 1800)),
            "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 1800)),
        },
        expect=201,
    )
    policy = api.api(
        "POST",
        "/escalation-policies",
        {
            "name": "follow the schedule",
            "steps": [
                {"delay_minutes": 60, "targets": [{"type": "schedule", "id": schedule["id"]}]}
            ],
        },
        expect=201,
    )
    service = api.api(
        "POST", "/services", {"name": "web", "escalation_policy_id": policy["id"]}, expect=201
    )
    key = api.api(
        "POST", f"/services/{service['id']}/integration-keys", {"type": "generic"}, expect=201
    )
    on_call = api.api("GET", f"/services/{service['id']}/on-call")
    assert json.dumps(on_call).count(people["dan"]["id"]) >= 1
    assert people["carol"]["id"] not in json.dumps(on_call)

    alert_id = raise_alert(system["port"], key["token"], "checkout errors")
    wait_until(lambda: pages_for(webhook_receiver, "/dan", alert_id), PAGE_TIMEOUT, "Dan paged")
    # The step has fired (Dan's page proves it) and engaged only him: nobody else is owed one.
    engaged = [
        entry
        for entry in api.api("GET", f"/alerts/{alert_id}")["log"]
        if entry["event"] == "escalated"
    ]
    assert len(engaged) == 1
    assert engaged[0]["meta"]["users"] == [people["dan"]["id"]]
    assert pages_for(webhook_receiver, "/carol", alert_id) == []
    assert pages_for(webhook_receiver, "/erin", alert_id) == []
