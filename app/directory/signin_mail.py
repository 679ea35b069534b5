"""Emailing sign-in links: the web process queues a job, and a worker derives the link's token,
renders the email and sends it over SMTP.

- An invitation's job names the link's id (the web made the link: the admin's answer shows it).
- A password reset's job names only the email asked for: the worker looks the account up and
  makes the link, so the web does the same work for every address, known or not, and neither
  its answer nor its timing tells which accounts exist.

No token is in a job's arguments, so neither Redis nor rq-dashboard ever holds one; a link that
died before its job ran (re-issued, revoked, used) is not sent (docs/architecture.md, Sign-in
links). A send is bounded by KLAXON_SEND_TIMEOUT and tried at most SEND_ATTEMPTS times; then the
job gives up, logging `signin_link_email_failed` (the link stays usable: an invitation's
`emailed_at` stays empty and the admin can re-invite, a person can ask for another reset).
"""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

import psycopg
import structlog
from psycopg.rows import dict_row
from redis import Redis
from rq import Queue

from app.directory import password_resets, signin_links
from app.platform import postgres
from app.platform.queues import DEFAULT_QUEUE, PASSWORD_RESET_JOB, SIGNIN_LINK_JOB
from app.providers.base import Delivery, DeliveryError
from config.settings import Settings

log = structlog.get_logger(__name__)

SEND_ATTEMPTS = 2  # a dropped connection is worth one more try; a dead server is not
JOB_TIMEOUT_MARGIN = 15  # seconds a job has beyond its sends: connecting, reading the row
STATEMENT_TIMEOUT_MS = 5_000  # a query of one link that takes longer is stuck, not slow
NO_SMTP = "SMTP_URL and SMTP_FROM are not set"
PATHS = {"invitation": "/auth/invitation/", "password_reset": "/auth/password-reset/"}


def link_url(settings: Settings, purpose: str, token: str) -> str:
    """The address a person opens: <KLAXON_PUBLIC_URL>/auth/<purpose path>/<token>."""
    return f"{settings.public_url.rstrip('/')}{PATHS[purpose]}{token}"


def enqueue_link(redis: Redis, settings: Settings, link_id: str) -> None:
    """Queue the email of one link (after the transaction that made it committed)."""
    _enqueue(redis, settings, SIGNIN_LINK_JOB, link_id)


def enqueue_reset(redis: Redis, settings: Settings, email: str) -> None:
    """Queue a password reset for whichever account has `email`, if any."""
    _enqueue(redis, settings, PASSWORD_RESET_JOB, email)


def _enqueue(redis: Redis, settings: Settings, job: str, argument: str) -> None:
    timeout = int(SEND_ATTEMPTS * settings.delivery.send_timeout) + JOB_TIMEOUT_MARGIN
    Queue(DEFAULT_QUEUE, connection=redis).enqueue(
        job, argument, job_timeout=timeout, result_ttl=0, failure_ttl=86400
    )


def compose(settings: Settings, link: dict[str, Any], token: str) -> Delivery:
    """The email for a link (LINK_COLUMNS): a subject and a text with the link spelled out."""
    url = link_url(settings, link["purpose"], token)
    until = link["expires_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if link["purpose"] == "invitation":
        subject = "[Klaxon] You are invited to Klaxon"
        text = (
            f"Hello {link['name']},\n\nYou have been invited to Klaxon, the on-call alerting "
            f"service. Open this link to choose your password and sign in:\n\n{url}\n\n"
            f"The link works once, until {until}. If you did not expect it, ignore this email."
        )
    else:
        subject = "[Klaxon] Reset your password"
        text = (
            f"Hello {link['name']},\n\nSomeone (hopefully you) asked to reset your Klaxon "
            f"password. Open this link to choose a new one:\n\n{url}\n\nThe link works once, "
            f"until {until}. If you did not ask, ignore this email: your password is unchanged."
        )
    return Delivery(
        message_id=uuid.UUID(link["id"]).int,
        kind=link["purpose"],
        dest_type="email",
        address=link["email"],
        subject=subject,
        text=text,
    )


def send(settings: Settings, link_id: str) -> str:
    """Email one link if it is still live: `sent`, `dead` (not sent), `failed` or `no_smtp`."""
    if settings.delivery.smtp is None:
        log.warning("signin_link_email_failed", link_id=link_id, error=NO_SMTP)
        return "no_smtp"
    with _connect(settings) as conn:
        return _send_link(settings, conn, link_id)


def reset(settings: Settings, email: str) -> str:
    """Make and email a reset link for the account with `email`: `no_link` when there is no
    such account (or it is disabled, or has no password), else as `send`."""
    if settings.delivery.smtp is None:
        log.warning("password_reset_not_sent", error=NO_SMTP)
        return "no_smtp"
    with _connect(settings) as conn:
        with conn.transaction():
            issued = password_resets.request_reset(
                conn, settings.secret_key, settings.sessions.password_reset_ttl, email
            )
        if issued is None:
            log.info("password_reset_no_link", reason="no such account, disabled, or no password")
            return "no_link"
        log.info("password_reset_link_made", link_id=issued.link["id"])
        return _send_link(settings, conn, issued.link["id"])


def _connect(settings: Settings) -> psycopg.Connection[Any]:
    return postgres.connect(
        settings.database_url,
        settings.check_timeout,
        row_factory=dict_row,
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
    )


def _send_link(settings: Settings, conn: psycopg.Connection[Any], link_id: str) -> str:
    from app.providers.smtp import SmtpProvider

    assert settings.delivery.smtp is not None
    bound = log.bind(link_id=link_id)
    link = signin_links.get_link(conn, link_id)
    if link is None or not link["live"]:
        bound.info("signin_link_email_skipped", reason="link is no longer live")
        return "dead"
    token = signin_links.token_for(settings.secret_key, link["purpose"], link_id)
    provider = SmtpProvider(settings.delivery.smtp, settings.public_url)
    outcome = _send(provider, compose(settings, link, token), settings, bound)
    if outcome == "sent":
        signin_links.mark_emailed(conn, link_id)
    return outcome


def _send(provider: Any, delivery: Delivery, settings: Settings, bound: Any) -> str:
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            provider.send(delivery, settings.delivery.send_timeout)
        except DeliveryError as exc:
            last = str(exc)
            if exc.permanent:
                break
            continue
        bound.info("signin_link_emailed", purpose=delivery.kind, attempt=attempt)
        return "sent"
    bound.warning("signin_link_email_failed", purpose=delivery.kind, error=last)
    return "failed"
