"""Queueing the email of a sign-in link from a web request (app.directory.signin_mail sends it).

Called after the transaction that made the link committed, so a worker never looks for a row
that is not there yet. Redis trouble does not fail the request: the link exists, and the
caller says it was not queued (an invitation's answer) or says nothing (a password reset,
whose answer must not depend on the account).
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
        signin_mail.enqueue(runtime.jobs_redis(), runtime.settings, link_id)
    except RedisError as exc:
        log.warning("signin_link_email_not_queued", link_id=link_id, error=str(exc))
        return "not_queued"
    log.info("signin_link_email_queued", link_id=link_id)
    return "queued"
