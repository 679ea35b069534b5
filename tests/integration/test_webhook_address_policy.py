"""Webhook URLs cannot steer Klaxon inside: the outbound policy on save (422 naming the rule)
and at send (a permanent failure, "address refused by policy"), against the address actually
connected to.

Real DNS cannot be made to change its answer between two lookups, so the tests that need a name
to resolve somewhere chosen pass their own resolver through the seam production wires to
getaddrinfo (create_app's `resolver`, http.Guard's `resolver`). That is a seam, not a mock of a
part that could run: everything after the lookup — the API, the policy, the connection, the
receiver, the database — is real. `localhost` goes through the real system resolver.
"""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from app.directory import users
from app.platform.outbound.policy import Policy
from app.providers import http
from app.providers.base import Delivery, DeliveryError
from app.providers.registry import build_providers
from app.providers.webhook import WebhookProvider
from config.settings import Settings
from tests.support.api import Api, created
from tests.support.fakes.webhook import WebhookReceiver
from workers.delivery import Batch

PUBLIC = "93.184.216.34"  # an address the policy allows; nothing here ever connects to it
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
REFUSED = "address refused by policy"
HINT = "refused by policy (set KLAXON_WEBHOOK_ALLOW_CIDRS to allow internal receivers)"

# (URL, the address the refusal names, the rule) — one of each refused class, literal or not.
MATRIX = [
    ("http://127.0.0.1:8080/hook", "127.0.0.1", "a loopback"),
    # Resolved by the system: 127.0.0.1, or ::1 first where localhost is IPv6 first.
    ("http://localhost:8080/hook", "127.0.0.1|::1", "a loopback"),
    ("http://2130706433/hook", "127.0.0.1", "a loopback"),  # 127.0.0.1 as one number
    ("http://[::1]/hook", "::1", "a loopback"),
    ("http://10.0.0.5/hook", "10.0.0.5", "a private"),
    ("http://172.16.3.4/hook", "172.16.3.4", "a private"),
    ("http://192.168.1.1/hook", "192.168.1.1", "a private"),
    ("http://[fd00::5]/hook", "fd00::5", "a private"),
    ("http://100.64.0.1/hook", "100.64.0.1", "a carrier-grade NAT"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "a link-local"),
    ("http://[fe80::1]/hook", "fe80::1", "a link-local"),
    ("http://0.0.0.0:8080/hook", "0.0.0.0", "an unspecified"),
    ("http://[::]/hook", "::", "an unspecified"),
    ("http://224.0.0.1/hook", "224.0.0.1", "a multicast"),
    ("http://[ff02::1]/hook", "ff02::1", "a multicast"),
    ("http://[::ffff:127.0.0.1]/hook", "::ffff:7f00:1", "an IPv4-mapped loopback"),
    ("http://[::ffff:169.254.169.254]/", "::ffff:a9fe:a9fe", "an IPv4-mapped link-local"),
    ("http://[::ffff:10.0.0.1]/hook", "::ffff:a00:1", "an IPv4-mapped private"),
]


class Answering:
    """A resolver that answers `addresses` for every name, recording the names asked."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.asked: list[str] = []

    def __call__(self, host: str) -> Sequence[str]:
        self.asked.append(host)
        return self.addresses


@pytest.fixture
def app_for(settings_for: Callable[..., Settings]) -> Iterator[Callable[..., Any]]:
    """app_for(resolver=None, **env) -> a test client of an app on this test's servers."""
    from app import create_app
    from app.platform.outbound.target import system_resolver

    apps: list[Any] = []

    def build(resolver: Callable[[str], Sequence[str]] | None = None, **env: str) -> Any:
        app = create_app(settings_for(**env), resolver or system_resolver)
        app.config["TESTING"] = True
        apps.append(app)
        return app.test_client()

    yield build
    for app in apps:
        app.extensions["klaxon"].stop()


@pytest.fixture
def api_for(app_for, make_api_key) -> Callable[..., Api]:
    """api_for(resolver=None, **env) -> an Api with a write key. The allow-list the tests'
    receivers need is switched off (KLAXON_WEBHOOK_ALLOW_CIDRS empty) unless env sets it."""

    def build(resolver: Callable[[str], Sequence[str]] | None = None, **env: str) -> Api:
        env = {"KLAXON_WEBHOOK_ALLOW_CIDRS": "", **env}
        return Api(app_for(resolver, **env), make_api_key("write"))

    return build


@pytest.fixture
def user(db_conn: psycopg.Connection[Any]) -> str:
    tag = uuid.uuid4().hex[:8]
    return str(users.create_user(db_conn, "Ada", f"ada-{tag}@example.com")["id"])


def refusal(response: Any, field: str = "address") -> str:
    """The message of a 422 that names `field`."""
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["code"] == "validation_failed"
    [error] = body["details"]["errors"]
    assert error["field"] == field
    return str(error["message"])


def new_channel(api: Api, url: str) -> dict[str, Any]:
    return created(
        api.post("/notification-channels", json={"name": "ops", "type": "webhook", "address": url})
    )


def new_method(api: Api, user: str, url: str) -> dict[str, Any]:
    body = {"name": "hook", "type": "webhook", "address": url}
    return created(api.post(f"/users/{user}/contact-methods", json=body))


def count(db_conn: psycopg.Connection[Any], table: str) -> int:
    found = db_conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()
    assert found is not None
    return int(found["n"])


# ---------------------------------------------------------------- on save


@pytest.mark.parametrize(("url", "address", "rule"), MATRIX)
def test_saving_a_url_that_reaches_inside_is_refused_naming_the_rule(
    api_for, user, db_conn, url, address, rule
):
    api = api_for()
    expected = {f"resolves to {one}, {rule} address; {HINT}" for one in address.split("|")}
    method = {"name": "hook", "type": "webhook", "address": url}
    assert refusal(api.post(f"/users/{user}/contact-methods", json=method)) in expected
    channel = {"name": "ops", "type": "webhook", "address": url}
    assert refusal(api.post("/notification-channels", json=channel)) in expected
    # Nothing was stored, and no verification code went anywhere.
    assert count(db_conn, "contact_methods") == count(db_conn, "notification_channels") == 0
    assert count(db_conn, "outgoing_messages") == 0


def test_changing_an_address_to_one_inside_is_refused_and_changes_nothing(api_for, user):
    api = api_for()
    public = f"https://{PUBLIC}/hook"
    method = new_method(api, user, public)
    channel = new_channel(api, public)
    for path in (
        f"/users/{user}/contact-methods/{method['id']}",
        f"/notification-channels/{channel['id']}",
    ):
        inside = {"address": "http://169.254.169.254/latest/meta-data/"}
        message = refusal(api.patch(path, json=inside))
        assert message == f"resolves to 169.254.169.254, a link-local address; {HINT}"
        assert api.get(path).get_json()["address"] == public


def test_a_name_answering_one_internal_address_among_public_ones_is_refused(api_for):
    api = api_for(Answering(PUBLIC, "10.1.2.3"))
    body = {"name": "ops", "type": "webhook", "address": "https://hooks.example.test/ops"}
    message = refusal(api.post("/notification-channels", json=body))
    assert message == f"resolves to 10.1.2.3, a private address; {HINT}"


def test_a_name_that_does_not_resolve_cannot_be_saved(api_for, user):
    api = api_for()  # the system resolver: .invalid never resolves (RFC 6761)
    body = {"name": "hook", "type": "webhook", "address": "https://hooks.invalid/page"}
    message = refusal(api.post(f"/users/{user}/contact-methods", json=body))
    assert message == (
        "hooks.invalid does not resolve; a webhook URL's host must resolve when it is saved"
    )


def test_a_resolver_that_hangs_refuses_the_save_within_its_deadline(api_for):
    release = threading.Event()
    api = api_for(lambda _host: release.wait(30) and [])
    body = {"name": "ops", "type": "webhook", "address": "https://slow.example.test/"}
    started = time.monotonic()
    try:
        message = refusal(api.post("/notification-channels", json=body))
    finally:
        release.set()
    assert time.monotonic() - started < 5
    assert message.startswith("slow.example.test did not resolve within 3s")


def test_the_allow_list_admits_internal_receivers(api_for, user):
    api = api_for(KLAXON_WEBHOOK_ALLOW_CIDRS="127.0.0.0/8,::1/128,10.20.0.0/16")
    for url in (
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://[::1]:9/hook",
        "http://10.20.30.40/hook",
    ):
        body = {"name": url, "type": "webhook", "address": url}
        created(api.post("/notification-channels", json=body))
    outside = {"name": "x", "type": "webhook", "address": "http://10.21.0.1/hook"}
    assert "10.21.0.1, a private address" in refusal(
        api.post("/notification-channels", json=outside)
    )


def test_slack_channel_addresses_are_not_urls_and_are_not_resolved(api_for):
    def never(host: str) -> Sequence[str]:
        raise AssertionError(f"resolved {host}")

    api = api_for(never, SLACK_BOT_TOKEN="xoxb-test")
    created(
        api.post(
            "/notification-channels", json={"name": "ops", "type": "slack", "address": "C012AB3CD"}
        )
    )


# ---------------------------------------------------------------- at send


def delivery(url: str) -> Delivery:
    return Delivery(
        message_id=7,
        kind="test",
        dest_type="webhook",
        address=url,
        subject="[Klaxon] test",
        text="test",
        signing_secret="s3cret",
    )


@pytest.mark.parametrize(("url", "address", "rule"), MATRIX)
def test_sending_to_an_address_inside_fails_permanently_saying_only_refused(url, address, rule):
    with pytest.raises(DeliveryError) as caught:
        WebhookProvider(http.Guard(Policy())).send(delivery(url), timeout=5)
    assert caught.value.permanent is True
    assert str(caught.value) == REFUSED


def test_without_the_allow_list_the_tests_own_receiver_is_refused(settings_for, webhook_receiver):
    policed = build_providers(settings_for(KLAXON_WEBHOOK_ALLOW_CIDRS=""))["webhook"]
    for url in (webhook_receiver.url(), webhook_receiver.url().replace("127.0.0.1", "localhost")):
        with pytest.raises(DeliveryError) as caught:
            policed.send(delivery(url), timeout=5)
        assert (str(caught.value), caught.value.permanent) == (REFUSED, True)
    assert webhook_receiver.requests() == []
    # The shared test settings allow loopback, as an operator with internal receivers would.
    allowed = build_providers(settings_for())["webhook"]
    assert allowed.send(delivery(webhook_receiver.url()), timeout=5).delivered
    assert len(webhook_receiver.wait_for(1)) == 1


def test_a_send_resolves_once_and_connects_to_the_vetted_address(webhook_receiver):
    # The second answer would be refused: a client resolving again at connect time would
    # reach it (or fail); the pinned send never asks.
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])
    asked: list[str] = []

    def resolver(host: str) -> Sequence[str]:
        asked.append(host)
        return next(answers)

    provider = WebhookProvider(http.Guard(Policy(LOOPBACK), resolver))
    url = f"http://hooks.example.test:{webhook_receiver.port}/hook?x=1"
    assert provider.send(delivery(url), timeout=5).delivered
    assert asked == ["hooks.example.test"]
    [request] = webhook_receiver.wait_for(1)
    assert request.path == "/hook?x=1"
    assert request.headers["host"] == f"hooks.example.test:{webhook_receiver.port}"


def test_a_name_that_stops_resolving_fails_transiently():
    def gone(_host: str) -> Sequence[str]:
        raise OSError("Name or service not known")

    provider = WebhookProvider(http.Guard(Policy(), gone))
    with pytest.raises(DeliveryError) as caught:
        provider.send(delivery("https://hooks.example.test/x"), timeout=5)
    assert caught.value.permanent is False
    assert str(caught.value) == (
        "cannot reach hooks.example.test: hooks.example.test does not resolve"
    )


# ---------------------------------------------------------------- TLS to a pinned address


@pytest.fixture
def tls_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    """An HTTPS receiver on 127.0.0.1 whose certificate names only hooks.example.test, trusted
    through SSL_CERT_FILE (read by OpenSSL for each new TLS context) as a real CA would be."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=hooks.example.test",
            "-addext",
            "subjectAltName=DNS:hooks.example.test",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment]
    receiver = WebhookReceiver(tls=context).start()
    receiver.sni = names  # type: ignore[attr-defined]
    yield receiver
    receiver.stop()


def test_tls_to_a_pinned_address_sends_sni_and_verifies_the_certificate_for_the_name(
    tls_receiver,
):
    provider = WebhookProvider(http.Guard(Policy(LOOPBACK), Answering("127.0.0.1")))
    url = f"https://hooks.example.test:{tls_receiver.port}/hook"
    assert provider.send(delivery(url), timeout=5).delivered
    [request] = tls_receiver.wait_for(1)
    assert request.headers["host"] == f"hooks.example.test:{tls_receiver.port}"
    assert tls_receiver.sni == ["hooks.example.test"]
    # Same address, another name: the certificate does not name it, so the send fails.
    other = f"https://other.example.test:{tls_receiver.port}/hook"
    with pytest.raises(DeliveryError) as caught:
        provider.send(delivery(other), timeout=5)
    assert caught.value.permanent is False
    assert "TLS failed" in str(caught.value)
    assert len(tls_receiver.requests()) == 1


# ---------------------------------------------------------------- DNS changing after the save


@pytest.mark.parametrize("destination", ["channel", "contact method"])
def test_a_name_public_when_saved_and_loopback_when_sent_is_refused_at_send(
    destination, api_for, settings_for, user, db_conn, webhook_receiver
):
    url = f"http://hooks.example.test:{webhook_receiver.port}/hook"
    api = api_for(Answering(PUBLIC))  # when saved, the name is public
    if destination == "channel":
        channel = new_channel(api, url)
        queued = api.post(f"/notification-channels/{channel['id']}/test")
        assert queued.status_code == 202, queued.get_json()
        message_id = int(queued.get_json()["message_id"])
    else:  # creating the method queues its verification code
        new_method(api, user, url)
        found = db_conn.execute("SELECT id FROM outgoing_messages").fetchone()
        assert found is not None
        message_id = int(found["id"])

    settings = settings_for(KLAXON_WEBHOOK_ALLOW_CIDRS="")
    rebound = Answering("127.0.0.1")  # when sent, the same name answers loopback
    providers = {"webhook": WebhookProvider(http.Guard(Policy(), rebound))}
    counts = Batch(settings, providers, "test-worker", [message_id]).run()

    assert counts["failed"] == 1
    assert rebound.asked == ["hooks.example.test"]
    stored = db_conn.execute(
        "SELECT status, attempts, last_error FROM outgoing_messages WHERE id = %s", (message_id,)
    ).fetchone()
    assert stored == {"status": "failed", "attempts": 1, "last_error": REFUSED}
    assert webhook_receiver.requests() == []


def test_the_same_send_reaches_the_receiver_when_the_name_stays_allowed(
    api_for, settings_for, db_conn, webhook_receiver
):
    """The control for the test above: the same path delivers when the policy allows it, so
    "the receiver got nothing" there means refused, not broken."""
    url = f"http://hooks.example.test:{webhook_receiver.port}/hook"
    api = api_for(Answering(PUBLIC))
    channel = new_channel(api, url)
    message_id = int(
        api.post(f"/notification-channels/{channel['id']}/test").get_json()["message_id"]
    )
    providers = {"webhook": WebhookProvider(http.Guard(Policy(LOOPBACK), Answering("127.0.0.1")))}
    counts = Batch(settings_for(), providers, "test-worker", [message_id]).run()
    assert counts["sent"] == 1
    [request] = webhook_receiver.wait_for(1)
    assert request.headers["x-klaxon-message-id"] == str(message_id)


def test_a_guarded_request_refuses_form_fields_instead_of_dropping_them():
    with pytest.raises(ValueError, match="a guarded request sends a body"):
        http.request(
            "POST",
            f"https://{PUBLIC}/x",
            timeout=1,
            fields={"a": "b"},
            guard=http.Guard(Policy(), Answering(PUBLIC)),
        )
