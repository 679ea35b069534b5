"""The inbound endpoints and /metrics as gunicorn serves them: several worker processes, real
engine and worker processes beside them, access logs as operators read them."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.alerts import store
from app.messages import links, reply_codes
from app.messages.links import ActionLink
from tests.conftest import SECRET_KEY
from tests.support.inbound import make_alert, make_contact_method, make_user, twilio_sign
from tests.support.procs import KlaxonProcess
from tests.support.wait import wait_until

pytestmark = pytest.mark.system

PUBLIC_URL = "https://klaxon.example.test"  # behind a proxy: Twilio signs the public URL
AUTH_TOKEN = "gunicorn-twilio-token"
HTTP_TIMEOUT = 10.0


def call(port: int, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        text = response.read().decode()
        return response.status, text, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text, _ = call(port, "GET", "/metrics")
    assert status == 200, text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def web(
    klaxon_env: dict[str, str], start_web: Callable[..., tuple[KlaxonProcess, int]]
) -> tuple[KlaxonProcess, int]:
    return start_web(
        {
            **klaxon_env,
            "WEB_CONCURRENCY": "2",
            "KLAXON_PUBLIC_URL": PUBLIC_URL,
            "TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": "+15550001111",
        }
    )


def test_metrics_agree_across_gunicorn_workers_and_see_engine_and_workers(
    web, klaxon_env, start_engine, start_worker, db_conn, make_service
):
    _, port = web
    start_engine(klaxon_env)
    start_worker(klaxon_env)
    service_id = make_service()["id"]
    for i in range(4):
        make_alert(db_conn, service_id, f"alert {i}")

    def ready() -> dict[Any, float] | None:
        samples = scrape(port)
        live = samples.get(("klaxon_workers_live", (("queue", "klaxon-notify"),)))
        return samples if live == 1 and samples.get(("klaxon_engine_up", ())) == 1 else None

    samples = wait_until(ready, 20, "metrics showing one live worker and an engine leader")
    assert samples[("klaxon_engine_last_cycle_age_seconds", ())] < 10
    # Many scrapes land on both gunicorn workers; every one reads the same truth.
    created = {
        scrape(port)[("klaxon_alerts_created_total", (("source", "api"),))] for _ in range(12)
    }
    assert created == {4}


def test_a_link_through_gunicorn_confirms_then_acts_and_its_token_stays_out_of_logs(
    web, db_conn, make_service
):
    proc, port = web
    user = make_user(db_conn)
    alert_id = make_alert(db_conn, make_service()["id"])
    token = links.make_token(
        SECRET_KEY, ActionLink(alert_id, "acknowledge", str(user["id"]), "email")
    )

    status, page, headers = call(port, "GET", f"/actions/{token}")
    assert status == 200 and "Acknowledge alert" in page
    assert headers["referrer-policy"] == "no-referrer"
    assert store.get_alert(db_conn, alert_id)["status"] == "triggered"

    status, page, _ = call(port, "POST", f"/actions/{token}")
    assert status == 200 and "acknowledged" in page
    assert store.get_alert(db_conn, alert_id)["status"] == "acknowledged"

    wait_until(
        lambda: len([e for e in proc.log_events() if e.get("path") == "/actions/<id>"]) >= 2,
        10,
        "access log lines for the link",
    )
    assert token not in proc.stderr()


def test_a_twilio_reply_through_gunicorn_acknowledges(web, db_conn, make_service):
    _, port = web
    number = "+15559870001"
    user = make_user(db_conn)
    method = make_contact_method(db_conn, user["id"], "sms", number)
    alert_id = make_alert(db_conn, make_service()["id"], "payments down")
    code = reply_codes.allocate(db_conn, method, alert_id)
    params = {"From": number, "Body": f"{code}a", "To": "+15550001111"}
    signature = twilio_sign(AUTH_TOKEN, f"{PUBLIC_URL}/api/v2/twilio/sms", params)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }

    status, twiml, answer_headers = call(
        port, "POST", "/api/v2/twilio/sms", urlencode(params).encode(), headers
    )

    assert status == 200, twiml
    assert answer_headers["content-type"].startswith("application/xml")
    assert f"Acknowledged alert {code} (#{alert_id})" in twiml
    assert store.get_alert(db_conn, alert_id)["status"] == "acknowledged"
    forged = {**headers, "X-Twilio-Signature": "AAAA" + signature[4:]}
    assert call(port, "POST", "/api/v2/twilio/sms", urlencode(params).encode(), forged)[0] == 403


def test_an_sms_page_and_its_reply_close_the_loop(
    klaxon_env, start_web, start_engine, start_worker, fake_twilio, db_conn, make_service
):
    """Engine pages by SMS through the worker (fake Twilio), the person replies `<code>a`, the
    alert is acknowledged; Twilio's delivery receipt marks the message delivered."""
    from tests.support.fakes.twilio import ACCOUNT_SID, FROM_NUMBER
    from tests.support.fakes.twilio import AUTH_TOKEN as FAKE_TOKEN

    env = {
        **klaxon_env,
        "KLAXON_PUBLIC_URL": PUBLIC_URL,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": FAKE_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_URL": fake_twilio.base_url,
    }
    _, port = start_web(env)
    start_engine(env)
    start_worker(env)
    number = "+15557770001"
    user = make_user(db_conn)
    method = make_contact_method(db_conn, user["id"], "sms", number)
    service_id = _paging_service(db_conn, make_service, user["id"], method)

    alert_id = make_alert(db_conn, service_id, "checkout errors")
    (sent,) = fake_twilio.wait_for(1, "/Messages.json", timeout=20)
    assert sent.form()["To"] == number
    code = int(re.search(r"reply (\d+)a to ack", sent.form()["Body"]).group(1))

    params = {"From": number, "To": FROM_NUMBER, "Body": f"{code} A"}
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_sign(FAKE_TOKEN, f"{PUBLIC_URL}/api/v2/twilio/sms", params),
    }
    status, twiml, _ = call(port, "POST", "/api/v2/twilio/sms", urlencode(params).encode(), headers)
    assert status == 200 and f"Acknowledged alert {code} (#{alert_id})" in twiml
    alert = store.get_alert(db_conn, alert_id)
    assert alert["status"] == "acknowledged"
    assert alert["log"][-1]["actor_id"] == str(user["id"])
    assert alert["log"][-1]["meta"]["via"] == "sms"

    sid = wait_until(lambda: _sent_sid(db_conn, alert_id), 10, "the page recorded as sent")
    receipt = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
    headers["X-Twilio-Signature"] = twilio_sign(
        FAKE_TOKEN, f"{PUBLIC_URL}/api/v2/twilio/status", receipt
    )
    status, _, _ = call(port, "POST", "/api/v2/twilio/status", urlencode(receipt).encode(), headers)
    assert status == 204
    row = db_conn.execute(
        "SELECT status FROM outgoing_messages WHERE provider_message_id = %s", (sid,)
    ).fetchone()
    assert row["status"] == "delivered"


def _paging_service(db_conn, make_service, user_id, method_id) -> str:
    """A service whose policy's one step pages `user_id`, whose rule texts `method_id` at once."""
    db_conn.execute(
        "INSERT INTO notification_rules (user_id, contact_method_id, delay_minutes) "
        "VALUES (%s, %s, 0)",
        (user_id, method_id),
    )
    policy = db_conn.execute(
        "INSERT INTO escalation_policies (name) VALUES ('sms loop') RETURNING id"
    ).fetchone()["id"]
    step = db_conn.execute(
        "INSERT INTO escalation_steps (policy_id, position, delay_minutes) "
        "VALUES (%s, 0, 5) RETURNING id",
        (policy,),
    ).fetchone()["id"]
    db_conn.execute(
        "INSERT INTO escalation_step_targets (step_id, target_type, user_id) "
        "VALUES (%s, 'user', %s)",
        (step, user_id),
    )
    service_id = make_service()["id"]
    db_conn.execute(
        "UPDATE services SET escalation_policy_id = %s WHERE id = %s", (policy, service_id)
    )
    return str(service_id)


def _sent_sid(db_conn, alert_id: int) -> str | None:
    row = db_conn.execute(
        "SELECT provider_message_id FROM outgoing_messages "
        "WHERE alert_id = %s AND kind = 'alert' AND status = 'sent'",
        (alert_id,),
    ).fetchone()
    return row["provider_message_id"] if row else None


def test_a_slack_page_and_its_button_close_the_loop(
    klaxon_env, start_web, start_engine, start_worker, fake_slack, db_conn, make_service
):
    """Engine pages a Slack member through the worker (fake Slack); pressing the message's
    Acknowledge button (a signed interactivity request) acknowledges the alert as that user."""
    from tests.support.fakes.slack import MEMBER

    signing_secret = "slack-signing-secret-for-the-loop"
    env = {
        **klaxon_env,
        "KLAXON_PUBLIC_URL": PUBLIC_URL,
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_API_URL": fake_slack.api_url,
        "SLACK_SIGNING_SECRET": signing_secret,
    }
    _, port = start_web(env)
    start_engine(env)
    start_worker(env)
    user = make_user(db_conn)
    method = make_contact_method(db_conn, user["id"], "slack", MEMBER)
    alert_id = make_alert(db_conn, _paging_service(db_conn, make_service, user["id"], method))

    (posted,) = fake_slack.wait_for(1, "/chat.postMessage", timeout=20)
    buttons = [
        element
        for block in posted.json()["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    acknowledge = next(b for b in buttons if b["action_id"] == "klaxon_acknowledge")
    payload = {
        "type": "block_actions",
        "user": {"id": MEMBER},
        "actions": [{"action_id": "klaxon_acknowledge", "value": acknowledge["value"]}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(time.time()))
    base = f"v0:{timestamp}:".encode() + body
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0="
        + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest(),
    }

    status, answer, _ = call(port, "POST", "/api/v2/slack/actions", body, headers)

    assert status == 200 and json.loads(answer)["text"] == f"Acknowledged by <@{MEMBER}>"
    alert = store.get_alert(db_conn, alert_id)
    assert alert["status"] == "acknowledged"
    assert alert["log"][-1]["actor_id"] == str(user["id"])
    assert alert["log"][-1]["meta"] == {"via": "slack", "slack_user": MEMBER}
