"""One representation per id: a string, the same in the REST API, webhook payloads, Slack
messages and emails. GoAlert's ingest answer is the one exception (its `AlertID` is a number,
as GoAlert's senders expect).

A real alert is paged to a webhook, an email address and a Slack member through the real
dispatch and delivery job (local SMTP server, Slack fake, webhook receiver); what each carries
is compared with what GET /api/v1/alerts/<id> and /api/v1/messages answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from tests.integration.test_delivery import Rig, make_method, make_user, message
from tests.support.api import Api
from tests.support.fakes.slack import BOT_TOKEN, MEMBER


def test_webhook_slack_and_email_carry_the_apis_string_ids(
    db_conn: psycopg.Connection[Any],
    settings_for: Callable[..., Any],
    client: Any,
    make_api_key: Callable[[str], str],
    make_service: Callable[..., dict[str, Any]],
    webhook_receiver: Any,
    smtp_server: Any,
    fake_slack: Any,
) -> None:
    service = make_service()
    ingest = client.post(
        "/api/v2/generic/incoming",
        json={"summary": "disk full on db-1"},
        headers={
            "Authorization": f"Bearer {service['integration_key']['token']}",
            "Accept": "application/json",
        },
    )
    assert ingest.status_code == 200, ingest.get_json()
    goalert_id = ingest.get_json()["AlertID"]
    assert isinstance(goalert_id, int)  # GoAlert's wire format, kept for its senders

    api = Api(client, make_api_key("read"))
    alert = api.get(f"/alerts/{goalert_id}").get_json()
    assert alert["id"] == str(goalert_id)

    user = make_user(db_conn)
    destinations = {
        "webhook": make_method(db_conn, webhook_receiver.url(), user_id=user),
        "email": make_method(db_conn, "ada@example.com", kind="email", user_id=user),
        "slack": make_method(db_conn, MEMBER, kind="slack", user_id=user),
    }
    sent = {
        kind: message(db_conn, method, "alert", alert_id=goalert_id)
        for kind, method in destinations.items()
    }
    rig = Rig(
        settings_for(
            SMTP_URL=smtp_server.url(),
            SMTP_FROM="klaxon@example.com",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_API_URL=fake_slack.api_url,
        )
    )
    try:
        rig.dispatch()
        rig.work()
    finally:
        rig.close()

    listed = api.get("/messages", query_string={"alert_id": alert["id"]}).get_json()["items"]
    api_ids = {item["contact_method_id"]: item["id"] for item in listed}
    message_ids = {kind: api_ids[method] for kind, method in destinations.items()}
    assert message_ids == {kind: str(mid) for kind, mid in sent.items()}

    [hook] = webhook_receiver.wait_for(1)
    payload = hook.json()
    assert payload["alert"]["id"] == alert["id"]
    assert payload["alert"]["service_id"] == alert["service_id"]
    assert payload["message_id"] == message_ids["webhook"]
    assert hook.headers["x-klaxon-message-id"] == message_ids["webhook"]

    [mail] = smtp_server.wait_for(1)
    assert mail.message["X-Klaxon-Alert-Id"] == alert["id"]
    assert mail.message["X-Klaxon-Message-Id"] == message_ids["email"]

    [post] = fake_slack.posts()
    assert post.json()["metadata"] == {
        "event_type": "klaxon_message",
        "event_payload": {
            "message_id": message_ids["slack"],
            "kind": "alert",
            "alert_id": alert["id"],
        },
    }
