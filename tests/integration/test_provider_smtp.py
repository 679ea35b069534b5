"""Email provider against a real local SMTP server (aiosmtpd) with AUTH and STARTTLS."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from app.providers.base import AlertView, Delivery, DeliveryError, Links, ProviderCheckFailed
from app.providers.smtp import SmtpProvider, parse_url
from config.settings import SmtpSettings
from tests.support.fakes.smtp import USER, FakeSmtp, SmtpBehaviour, make_certificate
from tests.support.net import Tarpit, closed_port

SENDER = "Klaxon <klaxon@example.com>"
PUBLIC_URL = "https://klaxon.example.com"
ACK = "https://klaxon.example.com/actions/ack.token?x=1&y=2"
CLOSE = "https://klaxon.example.com/actions/close.token"


def provider(url: str) -> SmtpProvider:
    return SmtpProvider(SmtpSettings(url=url, sender=SENDER), PUBLIC_URL)


def delivery(**overrides: object) -> Delivery:
    fields: dict[str, object] = {
        "message_id": 31,
        "kind": "alert",
        "dest_type": "email",
        "address": "oncall@example.org",
        "subject": "[Klaxon] Alert #9: <script>alert(1)</script> & disk full",
        "text": "Alert #9: <script>alert(1)</script> & disk full\n\nService: Database",
        "alert": AlertView(
            9,
            "<script>alert(1)</script> & disk full",
            "details <b>bold</b>",
            "triggered",
            "svc-1",
            "Data<base>",
            datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        ),
        "links": Links(ACK, CLOSE),
    }
    fields.update(overrides)
    return Delivery(**fields)  # type: ignore[arg-type]


def test_sends_text_and_html_with_links_after_logging_in(smtp_server):
    sent = provider(smtp_server.url()).send(delivery(), timeout=5)

    [mail] = smtp_server.wait_for(1)
    assert smtp_server.logins == [USER]
    assert mail.rcpt_tos == ["oncall@example.org"]
    assert mail.mail_from == "klaxon@example.com"
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == "[Klaxon] Alert #9: <script>alert(1)</script> & disk full"
    assert message["From"] == SENDER
    assert message["Message-ID"] == "<klaxon.31@klaxon.example.com>"
    assert sent.provider_message_id == "<klaxon.31@klaxon.example.com>"
    assert sent.delivered is False

    text = mail.part("text/plain")
    assert "Alert #9: <script>alert(1)</script> & disk full" in text
    assert ACK in text and CLOSE in text

    page = mail.part("text/html")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Data&lt;base&gt;" in page
    assert 'href="https://klaxon.example.com/actions/ack.token?x=1&amp;y=2"' in page
    assert f'href="{CLOSE}"' in page
    assert ">Acknowledge</a>" in page and ">Close</a>" in page


def test_links_already_in_the_text_are_not_repeated(smtp_server):
    text = f"Alert #9\nAcknowledge: {ACK}\nClose: {CLOSE}\n"
    provider(smtp_server.url()).send(delivery(text=text), timeout=5)
    [mail] = smtp_server.wait_for(1)
    assert mail.part("text/plain").count(ACK) == 1


def test_verification_email_without_links(smtp_server):
    provider(smtp_server.url()).send(
        delivery(
            kind="verification",
            subject="Your Klaxon verification code",
            text="Your Klaxon code: 123456",
            code="123456",
            alert=None,
            links=None,
        ),
        timeout=5,
    )
    [mail] = smtp_server.wait_for(1)
    assert "123456" in mail.part("text/plain")
    assert "123456" in mail.part("text/html")
    assert "/actions/" not in mail.part("text/html")


def test_no_user_in_the_url_means_no_login(smtp_server):
    provider(smtp_server.url(user=None)).send(delivery(), timeout=5)
    smtp_server.wait_for(1)
    assert smtp_server.logins == []


def test_wrong_password_is_permanent_and_names_the_reply_not_the_password(smtp_server):
    with pytest.raises(DeliveryError) as caught:
        provider(smtp_server.url(password="wrong-pw")).send(delivery(), timeout=5)
    assert caught.value.permanent is True
    assert "535" in str(caught.value)
    assert "wrong-pw" not in str(caught.value)
    assert smtp_server.received() == []


def test_permanent_recipient_refusal():
    server = FakeSmtp(behaviour=SmtpBehaviour(rcpt_reply="550 5.1.1 No such user here")).start()
    try:
        with pytest.raises(DeliveryError) as caught:
            provider(server.url()).send(delivery(), timeout=5)
    finally:
        server.stop()
    assert caught.value.permanent is True
    assert "550" in str(caught.value) and "No such user here" in str(caught.value)


def test_temporary_refusals_are_transient():
    server = FakeSmtp(behaviour=SmtpBehaviour(rcpt_reply="450 4.2.1 Mailbox busy")).start()
    try:
        with pytest.raises(DeliveryError) as caught:
            provider(server.url()).send(delivery(), timeout=5)
        assert caught.value.permanent is False
        assert "450" in str(caught.value)

        server.behaviour = SmtpBehaviour(data_reply="451 4.3.0 Try again later")
        with pytest.raises(DeliveryError) as caught:
            provider(server.url()).send(delivery(), timeout=5)
        assert caught.value.permanent is False
        assert "451 4.3.0 Try again later" in str(caught.value)

        server.behaviour = SmtpBehaviour(data_reply="554 5.6.0 Message rejected")
        with pytest.raises(DeliveryError) as caught:
            provider(server.url()).send(delivery(), timeout=5)
        assert caught.value.permanent is True
    finally:
        server.stop()


def test_refused_connection_is_transient():
    with pytest.raises(DeliveryError) as caught:
        provider(f"smtp://127.0.0.1:{closed_port()}").send(delivery(), timeout=5)
    assert caught.value.permanent is False
    assert "connection refused" in str(caught.value)


def test_tarpit_send_and_check_end_within_the_timeout():
    with Tarpit() as tarpit:
        smtp = provider(f"smtp://{USER}:pw@127.0.0.1:{tarpit.port}")
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            smtp.send(delivery(), timeout=1.0)
        assert time.monotonic() - started < 2.0
        assert caught.value.permanent is False
        assert "did not answer within 1s" in str(caught.value)

        started = time.monotonic()
        with pytest.raises(ProviderCheckFailed) as failed:
            smtp.check(timeout=1.0)
        assert time.monotonic() - started < 2.0
        assert f"127.0.0.1:{tarpit.port} did not answer within 1s" in str(failed.value)


def test_check_passes_with_the_right_password_and_fails_with_the_servers_reply(smtp_server):
    provider(smtp_server.url()).check(timeout=5)
    assert smtp_server.logins == [USER]

    with pytest.raises(ProviderCheckFailed) as failed:
        provider(smtp_server.url(password="nope")).check(timeout=5)
    message = str(failed.value)
    assert "535 5.7.8 Authentication credentials invalid" in message
    assert f"127.0.0.1:{smtp_server.port}" in message
    assert "nope" not in message


@pytest.fixture
def tls_smtp_server(tmp_path, monkeypatch):
    cert, key = make_certificate(tmp_path)
    # OpenSSL reads SSL_CERT_FILE when a default context loads its trust store.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server = FakeSmtp(tls_cert=(cert, key)).start()
    yield server
    server.stop()


def test_starttls_then_login(tls_smtp_server):
    url = tls_smtp_server.url()
    assert parse_url(url).starttls
    smtp = provider(url)
    smtp.check(timeout=5)
    smtp.send(delivery(), timeout=5)
    [mail] = tls_smtp_server.wait_for(1)
    assert mail.rcpt_tos == ["oncall@example.org"]
    assert tls_smtp_server.logins == [USER, USER]


def test_implicit_tls_smtps(tmp_path, monkeypatch):
    cert, key = make_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server = FakeSmtp(tls_cert=(cert, key), implicit_tls=True).start()
    try:
        url = server.url()
        assert url.startswith("smtps://")
        smtp = provider(url)
        smtp.check(timeout=5)
        smtp.send(delivery(), timeout=5)
        [mail] = server.wait_for(1)
        assert mail.rcpt_tos == ["oncall@example.org"]
        assert server.logins == [USER, USER]
    finally:
        server.stop()


def test_untrusted_certificate_fails_permanently_and_the_check_says_so(tmp_path):
    cert, key = make_certificate(tmp_path)  # SSL_CERT_FILE not set: not trusted
    server = FakeSmtp(tls_cert=(cert, key)).start()
    try:
        with pytest.raises(DeliveryError) as caught:
            provider(server.url()).send(delivery(), timeout=5)
        assert caught.value.permanent is True
        assert "certificate" in str(caught.value)
        with pytest.raises(ProviderCheckFailed) as failed:
            provider(server.url()).check(timeout=5)
        assert "certificate" in str(failed.value)
    finally:
        server.stop()
    assert server.received() == []


def test_starttls_required_but_not_offered_is_permanent(smtp_server):
    with pytest.raises(DeliveryError) as caught:
        provider(smtp_server.url() + "?starttls=true").send(delivery(), timeout=5)
    assert caught.value.permanent is True
    assert "STARTTLS" in str(caught.value)


def test_url_parsing():
    target = parse_url("smtps://user%40x:p%3Ass@mail.example.com")
    assert (target.scheme, target.host, target.port) == ("smtps", "mail.example.com", 465)
    assert (target.username, target.password, target.starttls) == ("user@x", "p:ss", False)
    target = parse_url("smtp://mail.example.com:587?starttls=true")
    assert (target.port, target.starttls, target.username) == (587, True, None)
    assert parse_url("smtp://mail.example.com").port == 25
