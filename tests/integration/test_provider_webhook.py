"""Webhook provider against a real local receiver: payload, signature, outcomes, deadlines."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import select
import signal
import socketserver
import threading
import time
from datetime import UTC, datetime

import pytest

from app.platform.outbound.policy import Policy
from app.providers import http
from app.providers.base import AlertView, Delivery, DeliveryError, Links, Sent
from app.providers.registry import build_providers
from app.providers.webhook import WebhookProvider
from tests.support.fakes.webhook import Behaviour
from tests.support.net import Tarpit, closed_port

SECRET = "whsec-test-secret"
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def loopback_provider() -> WebhookProvider:
    """The webhook provider with loopback allowed, as the tests' receivers need."""
    return WebhookProvider(http.Guard(Policy(LOOPBACK)))


def alert_delivery(url: str, **overrides: object) -> Delivery:
    fields: dict[str, object] = {
        "message_id": 4242,
        "kind": "alert",
        "dest_type": "webhook",
        "address": url,
        "subject": "[Klaxon] Alert #7: disk full on db-1",
        "text": "Alert #7: disk full on db-1",
        "attempt": 2,
        "signing_secret": SECRET,
        "alert": AlertView(
            id=7,
            summary="disk full on db-1",
            details="/var is 100% full",
            status="triggered",
            service_id="svc-1",
            service_name="Database",
            created_at=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        ),
        "links": Links("https://k.example/actions/ack-token", "https://k.example/actions/close"),
        "extra": {"escalation_step": 1},
    }
    fields.update(overrides)
    return Delivery(**fields)  # type: ignore[arg-type]


def test_alert_payload_headers_and_signature_a_receiver_can_verify(webhook_receiver):
    sent = loopback_provider().send(alert_delivery(webhook_receiver.url()), timeout=5)

    assert sent == Sent(provider_message_id=None, delivered=True)
    [request] = webhook_receiver.wait_for(1)
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["x-klaxon-message-id"] == "4242"
    assert headers["user-agent"].startswith("Klaxon/")
    timestamp = headers["x-klaxon-timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    # What a receiver does: recompute the HMAC over "<timestamp>.<raw body>".
    expected = hmac.new(
        SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert headers["x-klaxon-signature"] == f"sha256={expected}"
    wrong = hmac.new(b"other", f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert headers["x-klaxon-signature"] != f"sha256={wrong.hexdigest()}"

    body = request.json()
    assert body["message_id"] == "4242"  # ids are strings, as in the REST API
    assert body["kind"] == "alert"
    assert body["attempt"] == 2
    assert body["subject"] == "[Klaxon] Alert #7: disk full on db-1"
    assert body["alert"] == {
        "id": "7",
        "summary": "disk full on db-1",
        "details": "/var is 100% full",
        "status": "triggered",
        "service_id": "svc-1",
        "service_name": "Database",
        "created_at": "2026-11-27T12:00:00Z",
    }
    assert body["links"] == {
        "acknowledge": "https://k.example/actions/ack-token",
        "close": "https://k.example/actions/close",
    }
    assert body["status"] is None and body["code"] is None
    assert body["extra"] == {"escalation_step": 1}
    assert datetime.fromisoformat(body["sent_at"]).tzinfo is not None


def test_message_id_is_stable_across_retries(webhook_receiver):
    provider = loopback_provider()
    provider.send(alert_delivery(webhook_receiver.url(), attempt=1), timeout=5)
    provider.send(alert_delivery(webhook_receiver.url(), attempt=2), timeout=5)
    first, second = webhook_receiver.wait_for(2)
    assert first.headers["x-klaxon-message-id"] == second.headers["x-klaxon-message-id"]
    assert [first.json()["attempt"], second.json()["attempt"]] == [1, 2]


def test_verification_and_status_update_payloads(webhook_receiver):
    provider = loopback_provider()
    provider.send(
        Delivery(
            message_id=1,
            kind="verification",
            dest_type="webhook",
            address=webhook_receiver.url(),
            subject="Klaxon verification code",
            text="Klaxon code: 123456",
            signing_secret=SECRET,
            code="123456",
        ),
        timeout=5,
    )
    provider.send(
        alert_delivery(webhook_receiver.url(), kind="status_update", status="acknowledged"),
        timeout=5,
    )
    verification, update = (r.json() for r in webhook_receiver.wait_for(2))
    assert verification["code"] == "123456"
    assert verification["alert"] is None and verification["links"] is None
    assert update["kind"] == "status_update" and update["status"] == "acknowledged"


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503])
def test_retryable_statuses_are_transient(webhook_receiver, status):
    webhook_receiver.behaviour = Behaviour(status=status)
    with pytest.raises(DeliveryError) as caught:
        loopback_provider().send(alert_delivery(webhook_receiver.url()), timeout=5)
    assert caught.value.permanent is False
    assert str(status) in str(caught.value)
    assert caught.value.retry_after is None


def test_retry_after_is_honoured(webhook_receiver):
    webhook_receiver.behaviour = Behaviour(status=429, headers={"Retry-After": "17"})
    with pytest.raises(DeliveryError) as caught:
        loopback_provider().send(alert_delivery(webhook_receiver.url()), timeout=5)
    assert caught.value.permanent is False
    assert caught.value.retry_after == 17


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422, 301, 302, 307])
def test_other_client_errors_and_redirects_are_permanent(webhook_receiver, status):
    webhook_receiver.behaviour = Behaviour(
        status=status, headers={"Location": webhook_receiver.url("/elsewhere")}
    )
    with pytest.raises(DeliveryError) as caught:
        loopback_provider().send(alert_delivery(webhook_receiver.url()), timeout=5)
    assert caught.value.permanent is True
    assert str(status) in str(caught.value)
    # Redirects are not followed: nothing reached the Location.
    assert webhook_receiver.requests("/elsewhere") == []


def test_error_messages_name_the_host_but_not_the_path_or_secret(webhook_receiver):
    webhook_receiver.behaviour = Behaviour(status=500)
    url = webhook_receiver.url("/hooks/secret-path-token?key=hunter2")
    with pytest.raises(DeliveryError) as caught:
        loopback_provider().send(alert_delivery(url), timeout=5)
    message = str(caught.value)
    assert f"127.0.0.1:{webhook_receiver.port}" in message
    assert "secret-path-token" not in message and "hunter2" not in message
    assert SECRET not in message


def test_refused_connection_is_transient():
    url = f"http://127.0.0.1:{closed_port()}/hook"
    with pytest.raises(DeliveryError) as caught:
        loopback_provider().send(alert_delivery(url), timeout=5)
    assert caught.value.permanent is False
    assert "cannot reach" in str(caught.value)


def test_tarpit_fails_transiently_within_the_timeout():
    with Tarpit() as tarpit:
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            loopback_provider().send(
                alert_delivery(f"http://127.0.0.1:{tarpit.port}/hook"), timeout=1.0
            )
        elapsed = time.monotonic() - started
    assert caught.value.permanent is False
    assert "did not answer within 1s" in str(caught.value)
    assert 0.9 <= elapsed < 2.5


def test_slow_receiver_times_out(webhook_receiver):
    webhook_receiver.behaviour = Behaviour(delay=3.0)
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        loopback_provider().send(alert_delivery(webhook_receiver.url()), timeout=0.5)
    assert time.monotonic() - started < 2.0
    assert caught.value.permanent is False


def test_connections_are_reused_and_the_pool_is_per_process(webhook_receiver):
    provider = loopback_provider()
    for _ in range(20):
        provider.send(alert_delivery(webhook_receiver.url()), timeout=5)
    assert len(webhook_receiver.wait_for(20)) == 20
    manager = http.pool()
    assert http.pool() is manager
    pool = manager.connection_from_url(webhook_receiver.url())
    # 20 sequential sends needed one connection, kept alive for the next.
    assert pool.num_connections == 1

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh pool, not the parent's
        os.close(read_end)
        os.write(write_end, b"fresh" if http.pool() is not manager else b"shared")
        os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 10)
        answer = os.read(read_end, 16) if ready else b"no answer from the child"
    finally:
        os.close(read_end)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert answer == b"fresh"


def test_payload_is_json_with_the_documented_keys(webhook_receiver):
    loopback_provider().send(alert_delivery(webhook_receiver.url()), timeout=5)
    [request] = webhook_receiver.wait_for(1)
    assert set(json.loads(request.body)) == {
        "message_id",
        "kind",
        "attempt",
        "subject",
        "text",
        "alert",
        "status",
        "code",
        "links",
        "extra",
        "sent_at",
    }


class _Drip(socketserver.BaseRequestHandler):
    """Answers 200 with a long body, one byte every 0.1 s."""

    stop = threading.Event()

    def handle(self) -> None:
        self.request.recv(65536)
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            if self.stop.wait(0.1):
                return
            try:
                self.request.sendall(b"x")
            except OSError:
                return


def test_a_receiver_dripping_its_answer_cannot_hold_a_send_past_its_timeout():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            loopback_provider().send(alert_delivery(url), timeout=1.0)
        assert time.monotonic() - started < 1.8
        assert caught.value.permanent is False
        assert "did not answer within 1s" in str(caught.value)
    finally:
        _Drip.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_registry_builds_webhook_always_and_others_only_when_configured(settings_for):
    assert set(build_providers(settings_for())) == {"webhook"}
    configured = settings_for(
        SMTP_URL="smtp://mail.example.com:587?starttls=true",
        SMTP_FROM="klaxon@example.com",
        TWILIO_ACCOUNT_SID="AC123",
        TWILIO_AUTH_TOKEN="token",
        TWILIO_FROM_NUMBER="+15551234567",
        SLACK_BOT_TOKEN="xoxb-1",
    )
    providers = build_providers(configured)
    assert {name: p.name for name, p in providers.items()} == {
        "webhook": "webhook",
        "smtp": "smtp",
        "twilio": "twilio",
        "slack": "slack",
    }
