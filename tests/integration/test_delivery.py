"""The delivery job against real Postgres, Redis and a local webhook receiver.

The job (workers.delivery.Batch) runs in-process here; the dispatch module runs as the engine
would run it. What a receiver saw is counted by X-Klaxon-Message-Id.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from redis import Redis
from rq import Queue

from app.alerts.store import raise_alert
from app.messages import create
from app.messages.dispatch_pass import Dispatcher
from app.platform.engine_pass import ModuleContext
from app.platform.pool import Database
from app.platform.queues import NOTIFY_QUEUE
from app.providers.registry import build_providers
from config.settings import Settings
from tests.support.fakes.webhook import Behaviour, Received
from tests.support.wait import wait_until
from workers.delivery import Batch

FAST = {
    "KLAXON_MINUTE_SECONDS": "0.6",  # backoff base 0.05 s
    "KLAXON_SEND_TIMEOUT": "2",
    "KLAXON_MESSAGE_GRACE": "1",
}


# ------------------------------------------------------------------------- shared helpers


def make_user(conn: psycopg.Connection[Any]) -> str:
    tag = secrets.token_hex(4)
    row = conn.execute(
        "INSERT INTO users (name, email) VALUES (%s, %s) RETURNING id::text AS id",
        (f"user {tag}", f"{tag}@example.com"),
    ).fetchone()
    assert row is not None
    return str(row["id"])


def make_method(
    conn: psycopg.Connection[Any],
    address: str,
    *,
    kind: str = "webhook",
    verified: bool = True,
    user_id: str | None = None,
) -> str:
    """A contact method of a new (or the given) user; webhook unless `kind` says otherwise.
    A webhook URL gets a unique query (`?cm=…`): each destination has one owner."""
    if kind == "webhook":
        address = f"{address}?cm={secrets.token_hex(4)}"
    row = conn.execute(
        "INSERT INTO contact_methods (user_id, name, type, address, signing_secret, verified_at) "
        "VALUES (%s, %s, %s, %s, %s, CASE WHEN %s THEN now() END) RETURNING id::text AS id",
        (
            user_id or make_user(conn),
            f"{kind} {secrets.token_hex(3)}",
            kind,
            address,
            "s3cret" if kind == "webhook" else None,
            verified,
        ),
    ).fetchone()
    assert row is not None
    return str(row["id"])


def make_channel(conn: psycopg.Connection[Any], url: str) -> str:
    row = conn.execute(
        "INSERT INTO notification_channels (name, type, address, signing_secret) "
        "VALUES (%s, 'webhook', %s, 's3cret') RETURNING id::text AS id",
        (f"channel {secrets.token_hex(3)}", url),
    ).fetchone()
    assert row is not None
    return str(row["id"])


def make_alert(conn: psycopg.Connection[Any], service_id: str, summary: str = "disk full") -> int:
    return raise_alert(conn, service_id, f"{summary} {secrets.token_hex(3)}").alert_id


def message(
    conn: psycopg.Connection[Any],
    method_id: str,
    kind: str = "test",
    *,
    alert_id: int | None = None,
    max_attempts: int = 5,
    payload: dict[str, Any] | None = None,
) -> int:
    message_id = create.to_contact_method(
        conn,
        kind,
        method_id,
        f"test:{secrets.token_hex(8)}",
        max_attempts=max_attempts,
        alert_id=alert_id,
        payload=payload,
    )
    assert message_id is not None
    return message_id


def message_ids(requests: list[Received]) -> list[int]:
    return [int(r.headers["x-klaxon-message-id"]) for r in requests]


def row(conn: psycopg.Connection[Any], message_id: int) -> dict[str, Any]:
    found = conn.execute(
        "SELECT *, extract(epoch FROM not_before - now()) AS due_in "
        "FROM outgoing_messages WHERE id = %s",
        (message_id,),
    ).fetchone()
    assert found is not None
    return dict(found)


def history(conn: psycopg.Connection[Any], message_id: int) -> list[tuple[str, int, str | None]]:
    rows = conn.execute(
        "SELECT status, attempt, error FROM message_events WHERE message_id = %s ORDER BY id",
        (message_id,),
    ).fetchall()
    return [(r["status"], r["attempt"], r["error"]) for r in rows]


# ------------------------------------------------------------------------- fixtures


class Rig:
    """Dispatch as the engine runs it, and delivery jobs run in-process from the real queue."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = Redis.from_url(settings.redis_url, socket_timeout=5)
        self.database = Database(settings, application_name="test-dispatch")
        self.dispatcher = Dispatcher()
        self.queue = Queue(NOTIFY_QUEUE, connection=self.redis)

    def dispatch(self) -> float | None:
        return self.dispatcher.run(ModuleContext(self.settings, self.redis, self.database))

    def jobs(self) -> list[Any]:
        return list(self.queue.get_jobs())

    def work(self, worker: str = "test-worker") -> list[dict[str, int]]:
        """Run every queued delivery job (as a worker would), emptying the queue."""
        results = []
        for job in self.jobs():
            self.queue.remove(job)
            job.delete()
            results.append(self.batch(list(job.args[0]), worker))
        return results

    def batch(self, ids: list[int], worker: str = "test-worker") -> dict[str, int]:
        return Batch(self.settings, build_providers(self.settings), worker, ids).run()

    def close(self) -> None:
        self.database.close()
        self.redis.close()


@pytest.fixture
def rig_for(settings_for: Callable[..., Settings]) -> Any:
    rigs: list[Rig] = []

    def build(**env: str) -> Rig:
        rig = Rig(settings_for(**{**FAST, **env}))
        rigs.append(rig)
        return rig

    yield build
    for rig in rigs:
        rig.close()


@pytest.fixture
def service_id(make_service: Callable[..., dict[str, Any]]) -> str:
    return str(make_service()["id"])


# ------------------------------------------------------------------------- tests


def test_a_message_is_queued_sent_and_recorded_delivered(db_conn, rig_for, webhook_receiver):
    rig = rig_for()
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()))
    rig.dispatch()
    [job] = rig.jobs()
    assert job.id == f"klaxon-msg-{mid}-1-1"
    assert row(db_conn, mid)["job_id"] == job.id
    rig.work()
    assert message_ids(webhook_receiver.wait_for(1)) == [mid]
    done = row(db_conn, mid)
    assert done["status"] == "delivered" and done["attempts"] == 1
    assert done["delivered_at"] is not None and done["claimed_until"] is None
    assert history(db_conn, mid) == [
        ("pending", 0, None),
        ("sending", 1, None),
        ("delivered", 1, None),
    ]


def test_a_message_queued_twice_is_sent_once(db_conn, rig_for, webhook_receiver):
    rig = rig_for()
    webhook_receiver.behaviour = Behaviour(delay=0.3)  # both jobs overlap the first send
    ids = [message(db_conn, make_method(db_conn, webhook_receiver.url())) for _ in range(3)]
    results: list[dict[str, int]] = []
    threads = [
        threading.Thread(target=lambda w=w: results.append(rig.batch(ids, w))) for w in ("a", "b")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(message_ids(webhook_receiver.requests())) == ids
    assert sum(r["claimed"] for r in results) == 3  # each message claimed by one job only
    assert sum(r["sent"] for r in results) == 3
    assert all(row(db_conn, m)["status"] == "delivered" for m in ids)


def test_a_transient_failure_is_retried_with_backoff_then_succeeds(
    db_conn, rig_for, webhook_receiver
):
    rig = rig_for()
    seen: list[Received] = []

    def decide(request: Received) -> Behaviour:
        seen.append(request)
        return Behaviour(status=503 if len(seen) == 1 else 200)

    webhook_receiver.decide = decide
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()))
    rig.dispatch()
    rig.work()
    after_first = row(db_conn, mid)
    assert after_first["status"] == "pending" and after_first["attempts"] == 1
    assert "503" in after_first["last_error"]
    assert after_first["job_id"] is None
    # attempt 1: backoff between half and all of 0.05 s (minute 0.6 s / 12)
    assert -0.5 < after_first["due_in"] <= 0.05
    wait_until(lambda: row(db_conn, mid)["due_in"] <= 0, 5, "the retry due")
    rig.dispatch()
    [job] = rig.jobs()
    assert job.id == f"klaxon-msg-{mid}-2-2"  # the attempt and enqueue count are in the id
    rig.work()
    assert row(db_conn, mid)["status"] == "delivered"
    assert message_ids(webhook_receiver.requests()) == [mid, mid]
    assert [r.json()["attempt"] for r in webhook_receiver.requests()] == [1, 2]
    assert history(db_conn, mid) == [
        ("pending", 0, None),
        ("sending", 1, None),
        ("pending", 1, after_first["last_error"]),
        ("sending", 2, None),
        ("delivered", 2, None),
    ]


def test_the_backoff_grows_with_each_attempt(db_conn, rig_for, webhook_receiver):
    rig = rig_for(KLAXON_MINUTE_SECONDS="12")  # base 1 s: attempt n waits 2^(n-1) s, jittered
    webhook_receiver.behaviour = Behaviour(status=500)
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()), max_attempts=5)
    waits = []
    for _ in range(3):
        db_conn.execute("UPDATE outgoing_messages SET not_before = now() WHERE id = %s", (mid,))
        rig.dispatch()
        rig.work()
        waits.append(row(db_conn, mid)["due_in"])
    # jittered over the upper half of 1, 2, 4 s (less the moments between record and read)
    assert 0.25 < waits[0] <= 1.0
    assert 0.75 < waits[1] <= 2.0
    assert 1.75 < waits[2] <= 4.0


def test_a_permanent_failure_fails_at_once_and_is_logged_on_the_alert(
    db_conn, rig_for, webhook_receiver, service_id
):
    rig = rig_for()
    webhook_receiver.behaviour = Behaviour(status=404)
    alert_id = make_alert(db_conn, service_id)
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()), "alert", alert_id=alert_id)
    rig.dispatch()
    rig.work()
    done = row(db_conn, mid)
    assert done["status"] == "failed" and done["attempts"] == 1
    assert "404" in done["last_error"] and done["failed_at"] is not None
    assert history(db_conn, mid)[-1] == ("failed", 1, done["last_error"])
    logged = db_conn.execute(
        "SELECT meta FROM alert_logs WHERE alert_id = %s AND event = 'notification_failed'",
        (alert_id,),
    ).fetchall()
    assert [r["meta"]["message_id"] for r in logged] == [str(mid)]
    assert "404" in logged[0]["meta"]["error"]


def test_a_message_fails_after_its_attempt_limit(db_conn, rig_for, webhook_receiver):
    rig = rig_for()
    webhook_receiver.behaviour = Behaviour(status=503)
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()), max_attempts=3)
    for _ in range(3):
        wait_until(lambda: row(db_conn, mid)["due_in"] <= 0, 5, "the next attempt due")
        rig.dispatch()
        rig.work()
    done = row(db_conn, mid)
    assert done["status"] == "failed" and done["attempts"] == 3
    assert len(webhook_receiver.requests()) == 3
    assert [s for s, _, _ in history(db_conn, mid)] == [
        "pending", "sending", "pending", "sending", "pending", "sending", "failed",
    ]  # fmt: skip
    rig.dispatch()
    assert rig.jobs() == []


def test_a_429_retry_after_is_honoured(db_conn, rig_for, webhook_receiver):
    rig = rig_for()
    webhook_receiver.behaviour = Behaviour(status=429, headers={"Retry-After": "3"})
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()))
    rig.dispatch()
    rig.work()
    waiting = row(db_conn, mid)
    assert waiting["status"] == "pending"
    assert 2.5 < waiting["due_in"] <= 3.0  # not the 0.05 s backoff: the receiver's 3 s
    rig.dispatch()
    assert rig.jobs() == []  # not due yet


def test_a_slow_receiver_does_not_hold_up_the_rest_of_its_batch(db_conn, rig_for, webhook_receiver):
    rig = rig_for(KLAXON_SEND_TIMEOUT="1")
    webhook_receiver.decide = lambda r: Behaviour(hang=True) if r.path.startswith("/slow") else None
    slow = message(db_conn, make_method(db_conn, webhook_receiver.url("/slow")))
    fast = [message(db_conn, make_method(db_conn, webhook_receiver.url())) for _ in range(4)]
    counts = rig.batch([slow, *fast])
    assert counts["sent"] == 4 and counts["retry"] == 1
    assert all(row(db_conn, m)["status"] == "delivered" for m in fast)
    held = row(db_conn, slow)
    assert held["status"] == "pending" and "did not answer within 1s" in held["last_error"]


def test_an_alert_message_to_an_unverified_method_fails_but_a_verification_goes(
    db_conn, rig_for, webhook_receiver, service_id
):
    rig = rig_for()
    method = make_method(db_conn, webhook_receiver.url(), verified=False)
    alert_id = make_alert(db_conn, service_id)
    page = message(db_conn, method, "alert", alert_id=alert_id)
    code = message(db_conn, method, "verification", payload={"code": "123456"})
    rig.dispatch()
    rig.work()
    refused = row(db_conn, page)
    assert refused["status"] == "failed" and "not verified" in refused["last_error"]
    assert message_ids(webhook_receiver.requests()) == [code]
    assert webhook_receiver.requests()[0].json()["code"] == "123456"
    sent = row(db_conn, code)
    assert sent["status"] == "delivered" and "code" not in sent["payload"]  # scrubbed


@pytest.mark.parametrize("status", [404, 503])
def test_a_verification_code_is_scrubbed_when_its_message_fails_too(
    db_conn, rig_for, webhook_receiver, status
):
    rig = rig_for()
    webhook_receiver.behaviour = Behaviour(status=status)  # permanent, then out of attempts
    method = make_method(db_conn, webhook_receiver.url(), verified=False)
    code = message(db_conn, method, "verification", payload={"code": "123456"}, max_attempts=1)
    rig.dispatch()
    rig.work()
    assert webhook_receiver.requests()[0].json()["code"] == "123456"  # it was sent with the code
    failed = row(db_conn, code)
    assert failed["status"] == "failed" and "code" not in failed["payload"]


def test_a_verification_code_is_scrubbed_when_a_stuck_send_is_given_up(db_conn, rig_for):
    rig = rig_for()
    method = make_method(db_conn, "https://example.invalid/hook", verified=False)
    code = message(db_conn, method, "verification", payload={"code": "123456"}, max_attempts=1)
    # A worker claimed it and died mid-send: the claim expired with no attempts left.
    db_conn.execute(
        "UPDATE outgoing_messages SET status = 'sending', attempts = 1, claimed_by = 'gone', "
        "claimed_until = now() - interval '1 minute' WHERE id = %s",
        (code,),
    )
    assert row(db_conn, code)["payload"] == {"code": "123456"}  # not terminal yet
    rig.dispatch()
    failed = row(db_conn, code)
    assert failed["status"] == "failed" and "code" not in failed["payload"]


def test_a_disabled_method_gets_no_alert(db_conn, rig_for, webhook_receiver, service_id):
    rig = rig_for()
    method = make_method(db_conn, webhook_receiver.url())
    db_conn.execute("UPDATE contact_methods SET disabled = true WHERE id = %s", (method,))
    mid = message(db_conn, method, "alert", alert_id=make_alert(db_conn, service_id))
    rig.dispatch()
    rig.work()
    assert row(db_conn, mid)["status"] == "failed"
    assert "disabled" in row(db_conn, mid)["last_error"]
    assert webhook_receiver.requests() == []


def test_an_unconfigured_provider_fails_the_message_naming_its_settings(db_conn, rig_for):
    rig = rig_for()
    method = make_method(db_conn, "+15555550100", kind="sms")
    mid = message(db_conn, method)
    rig.dispatch()
    rig.work()
    failed = row(db_conn, mid)
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "TWILIO_ACCOUNT_SID" in failed["last_error"]


def test_an_alert_message_carries_links_and_is_logged_on_the_alert(
    db_conn, rig_for, webhook_receiver, service_id
):
    rig = rig_for()
    method = make_method(db_conn, webhook_receiver.url())
    alert_id = make_alert(db_conn, service_id, "db-1 down")
    mid = message(db_conn, method, "alert", alert_id=alert_id)
    rig.dispatch()
    rig.work()
    [received] = webhook_receiver.requests()
    body = received.json()
    assert body["alert"]["id"] == str(alert_id) and "db-1 down" in body["subject"]
    assert body["links"]["acknowledge"].startswith("http://localhost:")
    assert "/actions/" in body["links"]["close"]
    assert body["links"]["acknowledge"] in body["text"]
    logged = db_conn.execute(
        "SELECT meta FROM alert_logs WHERE alert_id = %s AND event = 'notification_sent'",
        (alert_id,),
    ).fetchall()
    assert [r["meta"]["message_id"] for r in logged] == [str(mid)]
    assert logged[0]["meta"]["dest_type"] == "webhook"


def test_a_channel_message_is_delivered(db_conn, rig_for, webhook_receiver, service_id):
    rig = rig_for()
    channel = make_channel(db_conn, webhook_receiver.url("/team"))
    alert_id = make_alert(db_conn, service_id)
    mid = create.to_channel(
        db_conn, "alert", channel, f"c:{alert_id}", max_attempts=5, alert_id=alert_id
    )
    rig.dispatch()
    rig.work()
    assert message_ids(webhook_receiver.requests("/team")) == [mid]


def test_an_sms_alert_carries_its_reply_code_and_links_signed_for_its_recipient(
    db_conn, settings_for, service_id
):
    from app.messages import reply_codes, store
    from app.messages.links import read_token
    from app.messages.render import render

    settings = settings_for(**FAST)
    user = make_user(db_conn)
    method = make_method(db_conn, "+15555550123", kind="sms", user_id=user)
    alerts = [make_alert(db_conn, service_id, "api 5xx") for _ in range(2)]
    ids = [message(db_conn, method, "alert", alert_id=a) for a in alerts]
    rows = store.claim(db_conn, ids, "test-worker", 10)
    deliveries = [
        render(settings, r, lambda cm, a: reply_codes.allocate(db_conn, cm, a)) for r in rows
    ]
    assert [d.reply_code for d in deliveries] == [1, 2]
    assert "Reply 1a to acknowledge, 1c to close." in deliveries[0].text
    first = deliveries[0]
    assert first.subject.startswith(f"[Klaxon] Alert #{alerts[0]}: api 5xx")
    assert first.links is not None and first.attempt == 1
    token = first.links.acknowledge.rsplit("/", 1)[1]
    link = read_token(settings.secret_key, token, settings.delivery.link_ttl)
    assert (link.alert_id, link.action, link.user_id, link.via) == (
        alerts[0],
        "acknowledge",
        user,
        "sms",
    )


def test_a_status_update_names_the_new_status(db_conn, rig_for, webhook_receiver, service_id):
    rig = rig_for()
    method = make_method(db_conn, webhook_receiver.url())
    alert_id = make_alert(db_conn, service_id)
    db_conn.execute(
        "UPDATE alerts SET status = 'closed', closed_at = now() WHERE id = %s", (alert_id,)
    )
    message(db_conn, method, "status_update", alert_id=alert_id, payload={"status": "closed"})
    rig.dispatch()
    rig.work()
    [received] = webhook_receiver.wait_for(1)
    body = received.json()
    assert body["kind"] == "status_update" and body["status"] == "closed"
    assert body["subject"].startswith(f"[Klaxon] Alert #{alert_id} closed:")
    assert body["links"] is None  # nothing left to act on


def test_a_page_for_an_alert_closed_before_it_went_out_is_not_sent(
    db_conn, rig_for, webhook_receiver, service_id
):
    rig = rig_for()
    alert_id = make_alert(db_conn, service_id)
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()), "alert", alert_id=alert_id)
    db_conn.execute(
        "UPDATE alerts SET status = 'closed', closed_at = now() WHERE id = %s", (alert_id,)
    )
    rig.dispatch()
    rig.work()
    closed = row(db_conn, mid)
    assert closed["status"] == "failed" and "was closed before this page" in closed["last_error"]
    assert webhook_receiver.requests() == []
