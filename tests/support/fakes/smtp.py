"""A real local SMTP server (aiosmtpd) with AUTH and optional STARTTLS that records messages."""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.net import closed_port
from tests.support.wait import wait_until

USER = "klaxon"
PASSWORD = "s3cret pass"  # a space: URLs must quote it


@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes

    def part(self, content_type: str) -> str:
        """The decoded text of the part with `content_type` (text/plain, text/html)."""
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return str(part.get_content())  # type: ignore[attr-defined]
        raise AssertionError(f"no {content_type} part in {self.message.get_content_type()}")


@dataclass
class SmtpBehaviour:
    """Replies the server gives instead of 250 (e.g. "550 5.1.1 no such user")."""

    rcpt_reply: str | None = None
    data_reply: str | None = None


@dataclass
class _Handler:
    server: FakeSmtp

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.server.behaviour.rcpt_reply
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.server.behaviour.data_reply
        if reply:
            return reply
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.server._record(
            Mail(envelope.mail_from, list(envelope.rcpt_tos), parsed, raw)  # type: ignore[arg-type]
        )
        return "250 2.0.0 Message accepted for delivery"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost (cert, key), made with openssl."""
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


@dataclass
class FakeSmtp:
    """`start()` listens on 127.0.0.1:<free port>; `url()` is an SMTP_URL for it."""

    users: dict[str, str] = field(default_factory=lambda: {USER: PASSWORD})
    tls_cert: tuple[Path, Path] | None = None  # (cert, key): offer STARTTLS, require it
    implicit_tls: bool = False  # with tls_cert: TLS from the first byte (smtps://) instead
    behaviour: SmtpBehaviour = field(default_factory=SmtpBehaviour)
    messages: list[Mail] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self.port = 0

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.users.get(user) == password
        if ok:
            with self._lock:
                self.logins.append(user)
        return AuthResult(success=ok, handled=False)

    def _record(self, mail: Mail) -> None:
        with self._lock:
            self.messages.append(mail)

    def start(self) -> FakeSmtp:
        tls: ssl.SSLContext | None = None
        if self.tls_cert is not None:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(*self.tls_cert)
        starttls = None if self.implicit_tls else tls
        last: Exception | None = None
        for _ in range(5):  # a free port can be taken between finding and binding it
            controller = Controller(
                _Handler(self),
                hostname="127.0.0.1",
                port=closed_port(),
                server_hostname="fake-smtp.test",
                authenticator=self._authenticate,
                auth_require_tls=starttls is not None,
                tls_context=starttls,
                require_starttls=starttls is not None,
                ssl_context=tls if self.implicit_tls else None,
                ready_timeout=10,
            )
            try:
                controller.start()
            except Exception as exc:
                last = exc
                continue
            self._controller, self.port = controller, controller.port
            return self
        raise RuntimeError(f"fake SMTP server did not start: {last!r}")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def url(
        self, user: str | None = USER, password: str | None = None, scheme: str = "smtp"
    ) -> str:
        """An SMTP_URL: with STARTTLS when the server has a certificate; no user: no login."""
        auth = ""
        if user is not None:
            secret = self.users.get(user, "") if password is None else password
            auth = f"{quote(user, safe='')}:{quote(secret, safe='')}@"
        query = "?starttls=true" if self.tls_cert is not None and not self.implicit_tls else ""
        scheme = "smtps" if self.implicit_tls else scheme
        return f"{scheme}://{auth}127.0.0.1:{self.port}{query}"

    def received(self) -> list[Mail]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Mail]:
        wait_until(lambda: len(self.received()) >= count, timeout=timeout, what=f"{count} email(s)")
        return self.received()
