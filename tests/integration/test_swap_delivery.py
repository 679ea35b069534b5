"""A shift swap's message travels the outbox like every other: queued in the request's
transaction, dispatched by the engine's pass, sent by a delivery job — here to a webhook
notice channel, with the swap's link in its text and its ids in `extra`."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.integration.test_delivery import make_channel, rig_for  # noqa: F401 - the fixture
from tests.support.api import Api
from tests.support.swaps import iso, swap_world, tomorrow_at


def test_the_notice_channel_receives_the_request_with_its_link(
    client: Any,
    db_conn: psycopg.Connection[Any],
    rig_for: Any,  # noqa: F811 - the fixture imported above
    webhook_receiver: Any,
) -> None:
    world = swap_world(db_conn)
    # Only the channel this time: a webhook receiver instead of Slack, no member's email.
    db_conn.execute("DELETE FROM contact_methods")
    channel = make_channel(db_conn, webhook_receiver.url())
    db_conn.execute(
        "UPDATE schedules SET notice_channel_id = %s WHERE id = %s", (channel, world["schedule"])
    )
    span = {"start": iso(tomorrow_at(10)), "end": iso(tomorrow_at(12)), "note": "dentist"}
    swap = (
        Api(client, world["keys"]["alice"])
        .post(f"/schedules/{world['schedule']}/swaps", json=span)
        .get_json()
    )

    rig = rig_for()
    rig.dispatch()
    rig.work()
    [received] = webhook_receiver.wait_for(1)
    body = received.json()
    assert body["kind"] == "shift_swap"
    assert body["subject"].startswith("[Klaxon] Cover wanted for Primary: ")
    assert body["text"].startswith("Alice asks for cover in Primary, ")
    link = f"/schedules/{world['schedule']}/swaps/{swap['id']}"
    assert body["text"].endswith(link) and "dentist" in body["text"]
    assert body["extra"]["event"] == "requested" and body["extra"]["swap_id"] == swap["id"]
