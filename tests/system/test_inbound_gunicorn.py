"""The inbound endpoints and /metrics as gunicorn serves them: several worker processes, real
engine and worker processes beside them, access logs as operators read them."""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import links
from app.alerts import store
from app.links import ActionLink
from app.messages import reply_codes
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
