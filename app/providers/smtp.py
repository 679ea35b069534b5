"""Email provider: SMTP from SMTP_URL (smtp:// with optional STARTTLS, or smtps://).

Each send opens one session, bounded as a whole by the send timeout: the socket timeout is
re-armed with the time left before every SMTP command, so a server that answers each command
just inside a per-command timeout still cannot hold a send past its deadline by much.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

import structlog

from app.providers import formatting
from app.providers.base import Delivery, DeliveryError, ProviderCheckFailed, Sent
from config.settings import SmtpSettings

log = structlog.get_logger(__name__)

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
TRUE_WORDS = ("1", "true", "yes", "on")
QUIT_WAIT = 1.0  # seconds at most for the server's answer to QUIT, within the deadline
QUIT_MIN = 0.05  # seconds: with less left, the connection is just closed


@dataclass(frozen=True)
class SmtpTarget:
    scheme: str  # smtp | smtps
    host: str
    port: int
    starttls: bool
    username: str | None
    password: str | None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def parse_url(url: str) -> SmtpTarget:
    """SMTP_URL's parts (config/settings.py already checked scheme and host)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    starttls = (query.get("starttls") or ["false"])[0].lower() in TRUE_WORDS
    return SmtpTarget(
        scheme=parts.scheme,
        host=parts.hostname or "localhost",
        port=parts.port or DEFAULT_PORTS[parts.scheme],
        starttls=starttls and parts.scheme == "smtp",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


class _Deadline:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.end = time.monotonic() + timeout

    def left(self) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        return remaining

    def arm(self, client: smtplib.SMTP) -> None:
        if client.sock is not None:
            client.sock.settimeout(self.left())


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
    return f"{exc.smtp_code} {' '.join(text.split())}".strip()


class SmtpProvider:
    name = "smtp"

    def __init__(self, settings: SmtpSettings, public_url: str) -> None:
        self.target = parse_url(settings.url)
        self.sender = settings.sender
        self.message_host = urlsplit(public_url).hostname or "klaxon.invalid"
        self._tls = ssl.create_default_context()

    @contextlib.contextmanager
    def _session(self, deadline: _Deadline) -> Iterator[smtplib.SMTP]:
        """Connected, greeted, (STARTTLS'd,) logged in; QUIT on the way out."""
        target = self.target
        client: smtplib.SMTP
        if target.scheme == "smtps":
            client = smtplib.SMTP_SSL(
                target.host, target.port, timeout=deadline.left(), context=self._tls
            )
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=deadline.left())
        try:
            deadline.arm(client)
            client.ehlo()
            if target.starttls:
                if not client.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        "the server does not offer STARTTLS (SMTP_URL asks for starttls=true)"
                    )
                deadline.arm(client)
                client.starttls(context=self._tls)
                deadline.arm(client)
                client.ehlo()
            if target.username is not None:
                deadline.arm(client)
                client.login(target.username, target.password or "")
            yield client
        finally:
            # QUIT is a courtesy: a short wait, and no error if the server is gone.
            with contextlib.suppress(Exception):
                left = deadline.end - time.monotonic()
                if client.sock is not None and left > QUIT_MIN:
                    client.sock.settimeout(min(QUIT_WAIT, left))
                    client.quit()
            client.close()

    def message(self, delivery: Delivery) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = " ".join(delivery.subject.split())
        msg["From"] = self.sender
        msg["To"] = delivery.address
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = f"<klaxon.{delivery.message_id}@{self.message_host}>"
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: vacation responders stay quiet
        msg["X-Klaxon-Message-Id"] = str(delivery.message_id)
        if delivery.alert is not None:
            msg["X-Klaxon-Alert-Id"] = str(delivery.alert.id)  # the REST API's alert id
        msg.set_content(formatting.email_text(delivery))
        msg.add_alternative(formatting.email_html(delivery), subtype="html")
        return msg

    def send(self, delivery: Delivery, timeout: float) -> Sent:
        msg = self.message(delivery)
        deadline = _Deadline(timeout)
        try:
            with self._session(deadline) as client:
                deadline.arm(client)
                client.send_message(msg, from_addr=None, to_addrs=[delivery.address])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
            raise DeliveryError(
                f"{self.target.where} refused the recipient: {code} {' '.join(text.split())}",
                permanent=code >= 500,
            ) from None
        except Exception as exc:
            raise self._delivery_error(exc, timeout) from None
        return Sent(provider_message_id=str(msg["Message-ID"]))

    def _delivery_error(self, exc: Exception, timeout: float) -> DeliveryError:
        where = self.target.where
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return DeliveryError(
                f"{where} refused the login: {_reply(exc)} — check SMTP_URL", permanent=True
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            return DeliveryError(f"{where} answered {_reply(exc)}", permanent=exc.smtp_code >= 500)
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return DeliveryError(f"{where}: {exc}", permanent=True)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return DeliveryError(
                f"{where}: TLS certificate not trusted ({exc.verify_message})", permanent=True
            )
        if isinstance(exc, TimeoutError) or _timed_out(exc):
            return DeliveryError(f"{where} did not answer within {timeout:g}s", permanent=False)
        if isinstance(exc, smtplib.SMTPException | OSError):
            return DeliveryError(f"cannot talk to {where}: {_describe(exc)}", permanent=False)
        return DeliveryError(f"{where}: {type(exc).__name__}: {exc}", permanent=False)

    def check(self, timeout: float) -> None:
        """Connect, EHLO, STARTTLS when asked, log in when the URL has a user; then QUIT."""
        where = self.target.where
        try:
            with self._session(_Deadline(timeout)):
                pass
        except smtplib.SMTPAuthenticationError as exc:
            user = self.target.username
            raise ProviderCheckFailed(
                f"SMTP login to {where} as {user!r} failed: {_reply(exc)} — check SMTP_URL"
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise ProviderCheckFailed(
                f"SMTP server {where} answered {_reply(exc)} — check SMTP_URL"
            ) from None
        except TimeoutError:
            raise ProviderCheckFailed(
                f"SMTP server {where} did not answer within {timeout:g}s — check SMTP_URL"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            if _timed_out(exc):
                raise ProviderCheckFailed(
                    f"SMTP server {where} did not answer within {timeout:g}s — check SMTP_URL"
                ) from None
            raise ProviderCheckFailed(
                f"SMTP server {where}: {_describe(exc)} — check SMTP_URL"
            ) from None


def _timed_out(exc: BaseException) -> bool:
    """smtplib reports a read timeout as SMTPServerDisconnected("…: timed out")."""
    return isinstance(exc, smtplib.SMTPServerDisconnected) and "timed out" in str(exc)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host ({exc.strerror})"
    text = str(exc) or type(exc).__name__
    return text
