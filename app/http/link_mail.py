"""Queueing sign-in link emails from a web request (app.directory.signin_mail sends them).

An invitation's email is queued after the transaction that made its link committed, so a worker
never looks for a row that is not there yet. Redis trouble does not fail the request: the
invitation exists and its answer says the email was not queued; a password reset answers as
always (its answer must not depend on anything about the account) and logs it.
"""

from __future__ import annotations

import structlog
from flask import current_app
from redis.exceptions import RedisError

from app.directory import signin_mail
from app.http.runtime import WebRuntime

log = structlog.get_logger(__name__)


def queue_email(link_id: str) -> str:
    """`queued`, `not_configured` (no SMTP: nothing is queued) or `not_queued` (Redis failed)."""
    runtime: WebRuntime = current_app.extensions["klaxon"]
    if runtime.settings.delivery.smtp is None:
        log.info("signin_link_email_not_configured", link_id=link_id)
        return "not_configured"
    try:
        signin_mail.enqueue_link(runtime.jobs_redis(), runtime.settings, link_id)
    except RedisError as exc:
        log.warning("signin_link_email_not_queued", link_id=link_id, error=str(exc))
        return "not_queued"
    log.info("signin_link_email_queued", link_id=link_id)
    return "queued"


def queue_reset(email: str) -> None:
    """Queue a password reset for `email`, whoever has it (the worker looks it up)."""
    runtime: WebRuntime = current_app.extensions["klaxon"]
    if runtime.settings.delivery.smtp is None:
        log.warning("password_reset_not_sent", error=signin_mail.NO_SMTP)
        return
    try:
        signin_mail.enqueue_reset(runtime.jobs_redis(), runtime.settings, email)
    except RedisError as exc:
        log.warning("password_reset_not_queued", error=str(exc))
        return
    log.info("password_reset_queued")
