"""`klaxon worker` proves each configured provider's credentials before it takes a job.

A wrong SMTP password or a server that never answers is a failed preflight check: exit 1, one
log line with the server's own reply, and a fatal report that `/healthz` shows under `workers`.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest
from redis import Redis

from tests.support.fakes.slack import FakeSlack
from tests.support.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio
from tests.support.http import get
from tests.support.net import Tarpit
from tests.support.procs import klaxon_bin
from tests.support.wait import wait_until

pytestmark = pytest.mark.system

EXIT_TIMEOUT = 30.0  # seconds: a generous cap, only so a hang fails this test, not the suite
CHECK_TIMEOUT = 1.0  # KLAXON_CHECK_TIMEOUT for the tarpit case
EXIT_SLACK = 2.0  # seconds the process may take to exit after its failing check's timeout
WRONG_PASSWORD_REPLY = "535 5.7.8 Authentication credentials invalid"


def smtp_env(klaxon_env: dict[str, str], url: str) -> dict[str, str]:
    return {**klaxon_env, "SMTP_URL": url, "SMTP_FROM": "Klaxon <klaxon@example.com>"}


def fatal_report(redis_url: str, instance: str) -> dict[str, str] | None:
    raw = Redis.from_url(redis_url, socket_timeout=2).get(f"klaxon:fatal:worker:{instance}")
    return json.loads(raw) if raw else None


def test_wrong_smtp_password_exits_1_and_healthz_shows_the_smtp_error(
    klaxon_env, smtp_server, spawn, start_web, redis_url, instance_name
):
    env = smtp_env(klaxon_env, smtp_server.url(password="not-the-password"))
    worker = spawn([klaxon_bin("klaxon"), "worker"], env, name="worker")

    assert worker.wait(EXIT_TIMEOUT) == 1, worker.stderr()[-3000:]
    failed = worker.find_event("preflight_check", check="provider:smtp", status="fail")
    assert failed is not None, worker.stderr()[-3000:]
    assert WRONG_PASSWORD_REPLY in failed["error"]
    assert f"127.0.0.1:{smtp_server.port}" in failed["error"]
    assert "not-the-password" not in worker.stderr()
    report = fatal_report(redis_url, instance_name)
    assert report is not None and report["check"] == "provider:smtp"
    assert WRONG_PASSWORD_REPLY in report["error"]

    _, port = start_web(klaxon_env)
    answer = wait_until(
        lambda: (
            (a := get(port, "/healthz")).status == 503
            and WRONG_PASSWORD_REPLY in a.body["checks"]["workers"][0].get("output", "")
            and a
        ),
        20,
        "/healthz showing the SMTP error",
    )
    workers = answer.body["checks"]["workers"][0]
    assert workers["status"] == "fail"
    assert f"worker@{instance_name}" in workers["output"]
    assert "provider:smtp" in workers["output"]


def test_tarpit_smtp_server_fails_the_check_within_the_check_timeout(
    klaxon_env, spawn, redis_url, instance_name
):
    with Tarpit() as tarpit:
        env = smtp_env(
            {**klaxon_env, "KLAXON_CHECK_TIMEOUT": str(CHECK_TIMEOUT)},
            f"smtp://klaxon:pw@127.0.0.1:{tarpit.port}",
        )
        worker = spawn([klaxon_bin("klaxon"), "worker"], env, name="worker")
        assert worker.wait(EXIT_TIMEOUT) == 1, worker.stderr()[-3000:]
        exited = time.time()
    failed = worker.find_event("preflight_check", check="provider:smtp", status="fail")
    assert failed is not None, worker.stderr()[-3000:]
    assert failed["duration_ms"] <= CHECK_TIMEOUT * 1000 + 200
    assert f"127.0.0.1:{tarpit.port} did not answer within" in failed["error"]
    # The process exits promptly once the check has failed: nothing is left hanging.
    logged = datetime.fromisoformat(failed["timestamp"]).timestamp()
    assert exited - logged <= EXIT_SLACK, f"exited {exited - logged:.2f}s after the check failed"
    report = fatal_report(redis_url, instance_name)
    assert report is not None and "did not answer within" in report["error"]


def test_correct_provider_configuration_passes_and_the_worker_starts(
    klaxon_env, smtp_server, start_worker, redis_url, instance_name
):
    twilio = FakeTwilio().start()
    slack = FakeSlack().start()
    try:
        env = {
            **smtp_env(klaxon_env, smtp_server.url()),
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_URL": twilio.base_url,
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_API_URL": slack.api_url,
        }
        worker = start_worker(env)
        for name in ("smtp", "twilio", "slack"):
            assert worker.find_event("preflight_check", check=f"provider:{name}", status="pass")
        assert worker.find_event("preflight_check", check="provider:webhook") is None
        assert smtp_server.logins == ["klaxon"]
        assert len(twilio.requests(f"/Accounts/{ACCOUNT_SID}.json")) == 1
        assert len(slack.requests("/auth.test")) == 1
        assert fatal_report(redis_url, instance_name) is None
    finally:
        twilio.stop()
        slack.stop()


def test_wrong_slack_token_and_twilio_credentials_fail_with_their_messages(klaxon_env, spawn):
    twilio = FakeTwilio().start()
    slack = FakeSlack().start()
    try:
        env = {
            **klaxon_env,
            "SLACK_BOT_TOKEN": "xoxb-wrong",
            "SLACK_API_URL": slack.api_url,
        }
        worker = spawn([klaxon_bin("klaxon"), "worker"], env, name="worker-slack")
        assert worker.wait(EXIT_TIMEOUT) == 1
        failed = worker.find_event("preflight_check", check="provider:slack", status="fail")
        assert failed is not None and "invalid_auth" in failed["error"]

        env = {
            **klaxon_env,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": "wrong-token",
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_URL": twilio.base_url,
        }
        worker = spawn([klaxon_bin("klaxon"), "worker"], env, name="worker-twilio")
        assert worker.wait(EXIT_TIMEOUT) == 1
        failed = worker.find_event("preflight_check", check="provider:twilio", status="fail")
        assert failed is not None and "401" in failed["error"] and "20003" in failed["error"]
        assert "wrong-token" not in worker.stderr()
    finally:
        twilio.stop()
        slack.stop()
