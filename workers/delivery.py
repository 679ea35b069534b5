"""The delivery job: send a batch of outgoing messages and record each outcome in Postgres.

It runs in the worker's own process (workers.worker.KlaxonWorker runs delivery jobs without a
fork) and opens a connection per job, with a statement timeout. It claims its rows in one
conditional UPDATE — rows it does not get back are someone else's, so a message queued twice
is sent once — sends them
concurrently on a small bounded thread pool (one slow receiver does not hold up the rest), and
records each outcome as soon as it is known, so a kill mid-batch repeats only the sends that
were in flight.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import structlog
from psycopg.rows import dict_row

from app.messages import reply_codes, store
from app.messages.render import render
from app.platform import postgres
from app.platform.queues import MAX_THREADS
from app.providers.base import Delivery, DeliveryError, Provider, Sent
from config.settings import PROVIDER_ENV, Settings, load_settings

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Seconds a claim outlives the sends it covers: room to record the outcome (with reconnects).
CLAIM_MARGIN = 5.0
STATEMENT_TIMEOUT_MS = 5_000  # a delivery query that takes longer is stuck, not slow
DB_RETRY_BASE = 0.1  # seconds; first wait before reconnecting to record an outcome
# Backoff between attempts, in Klaxon minutes (KLAXON_MINUTE_SECONDS): 5 s, 10 s, 20 s, … capped
# at 5 minutes with the default 60 s minute; tests shorten the minute and so the backoff.
BACKOFF_BASE_MINUTES = 1 / 12
BACKOFF_CAP_MINUTES = 5.0
RETRY_AFTER_MAX = 3600.0  # seconds; a provider's Retry-After is honoured up to this

ANY_METHOD_KINDS = ("verification", "test")  # may go to an unverified or disabled method


def deliver(message_ids: Sequence[int]) -> dict[str, int]:
    """RQ job: send each of `message_ids` that is still pending; counts of outcomes."""
    settings, providers = _process_state()
    return Batch(settings, providers, _worker_name(), list(message_ids)).run()


_state: tuple[int, Settings, dict[str, Provider]] | None = None


def _process_state() -> tuple[Settings, dict[str, Provider]]:
    """Settings and providers, built once per process: the worker runs delivery jobs in its own
    process, so they persist between jobs (connection pools stay warm); a forked child (pid
    differs) builds its own rather than use what it inherited."""
    global _state
    if _state is None or _state[0] != os.getpid():
        from app.providers.registry import build_providers

        settings = load_settings()
        _state = (os.getpid(), settings, build_providers(settings))
    return _state[1], _state[2]


def backoff(settings: Settings, attempt: int, retry_after: float | None) -> float:
    """Seconds before the next attempt: exponential in the attempts made, with full jitter over
    the upper half, capped; never sooner than the provider's Retry-After."""
    minute = settings.delivery.minute_seconds
    ceiling = min(
        BACKOFF_BASE_MINUTES * minute * 2 ** max(attempt - 1, 0), BACKOFF_CAP_MINUTES * minute
    )
    delay = ceiling * (0.5 + random.random() / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_MAX))
    return delay


@dataclass(frozen=True)
class Outcome:
    """What one send came to: `sent`, or an error that says whether to retry."""

    sent: Sent | None = None
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None
    duration_ms: float = 0.0


class Batch:
    """One job's messages: claim, render, send concurrently, record as each finishes."""

    def __init__(
        self, settings: Settings, providers: dict[str, Provider], worker: str, ids: list[int]
    ) -> None:
        self.settings = settings
        self.providers = providers
        self.worker = worker
        self.ids = ids
        self.rounds = max(1, math.ceil(len(ids) / MAX_THREADS))
        self.send_budget = self.rounds * settings.delivery.send_timeout
        self.claim_seconds = self.send_budget + CLAIM_MARGIN
        self.deadline = 0.0  # monotonic; set when the claim is made
        self._conn: psycopg.Connection[Any] | None = None
        self.counts = {"claimed": 0, "sent": 0, "retry": 0, "failed": 0, "lost": 0}

    def run(self) -> dict[str, int]:
        try:
            rows = self._with_db(
                lambda c: store.claim(c, self.ids, self.worker, self.claim_seconds)
            )
            self.deadline = time.monotonic() + self.claim_seconds - 1.0
            self.counts["claimed"] = len(rows)
            if len(rows) < len(self.ids):
                log.info("messages_not_claimed", skipped=len(self.ids) - len(rows))
            self._send_all(rows)
        finally:
            if self._conn is not None:
                self._conn.close()
        log.info("delivery_batch_done", **self.counts)
        return self.counts

    # ---------------------------------------------------------------- database, bounded

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = postgres.connect(
                self.settings.database_url,
                self.settings.check_timeout,
                application_name="klaxon-worker",
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                row_factory=dict_row,
            )
        return self._conn

    def _with_db(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run `work` (idempotent) on a live connection, reconnecting with backoff after a lost
        connection until the claim's deadline (or a few tries before there is a claim)."""
        delay = DB_RETRY_BASE
        tries = 0
        while True:
            tries += 1
            try:
                return work(self._connection())
            except psycopg.OperationalError as exc:
                if self._conn is not None:
                    self._conn.close()
                out_of_time = (
                    time.monotonic() + delay > self.deadline if self.deadline else tries >= 5
                )
                if out_of_time:
                    raise
                log.warning(
                    "delivery_database_retry", error=postgres.describe_error(exc), wait=delay
                )
                time.sleep(delay * (0.5 + random.random() / 2))
                delay = min(delay * 2, 2.0)

    # ---------------------------------------------------------------- sending

    def _send_all(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        pool = ThreadPoolExecutor(max_workers=min(len(rows), MAX_THREADS))
        try:
            futures: dict[Future[Outcome], dict[str, Any]] = {}
            for row in rows:
                delivery = self._prepare(row)
                if delivery is not None:
                    futures[pool.submit(self._send, row, delivery)] = row
            self._collect(futures)
        finally:
            # Never join a send that overran its deadline; the horse exits after the job anyway.
            pool.shutdown(wait=False, cancel_futures=True)

    def _collect(self, futures: dict[Future[Outcome], dict[str, Any]]) -> None:
        pending = set(futures)
        end = time.monotonic() + self.send_budget + 1.0
        while pending:
            done, pending = wait(
                pending, timeout=end - time.monotonic(), return_when=FIRST_COMPLETED
            )
            if not done:
                break
            # Every send that finished meanwhile is recorded in one statement (one commit).
            self._record_all([(futures[f], f.result()) for f in done])
        for future in pending:
            log.error(
                "delivery_send_overran", message_id=futures[future]["id"], budget=self.send_budget
            )

    def _prepare(self, row: dict[str, Any]) -> Delivery | None:
        """The Delivery for `row`, or None after recording why it cannot be sent."""
        refusal = self._refusal(row)
        if refusal is not None:
            self._record(row, Outcome(error=refusal, permanent=True))
            return None
        try:
            return self._with_db(
                lambda c: render(
                    self.settings, row, lambda cm, alert: reply_codes.allocate(c, cm, alert)
                )
            )
        except Exception as exc:  # a poisoned row must not sink the batch: retry it later
            log.exception("message_render_failed", message_id=row["id"])
            self._record(row, Outcome(error=f"could not render the message: {exc}"))
            return None

    def _refusal(self, row: dict[str, Any]) -> str | None:
        """Why this message must not be sent at all, if it must not."""
        provider = row["provider"]
        if provider not in self.providers:
            return (
                f"the {provider} provider is not configured on this worker: "
                f"set {PROVIDER_ENV.get(provider, 'its settings')}"
            )
        if row["address"] is None:
            return "the destination no longer exists"
        if row["kind"] == "alert" and row["alert_status"] == "closed":
            # A page still queued (or waiting to retry) when its alert was closed is news to no
            # one. Acknowledged alerts still page: a forced escalation may fire on them.
            return f"not sent: alert #{row['alert_id']} was closed before this page went out"
        if row["contact_method_id"] is None or row["kind"] in ANY_METHOD_KINDS:
            return None if row["stopped_at"] is None else "the number replied STOP"
        if row["stopped_at"] is not None:
            return "the contact method's number replied STOP (it must reply START)"
        if row["disabled"]:
            return "the contact method is disabled"
        if row["verified_at"] is None:
            return "the contact method is not verified"
        return None

    def _send(self, row: dict[str, Any], delivery: Delivery) -> Outcome:
        started = time.monotonic()
        provider = self.providers[row["provider"]]
        try:
            sent = provider.send(delivery, self.settings.delivery.send_timeout)
        except DeliveryError as exc:
            return Outcome(
                error=str(exc),
                permanent=exc.permanent,
                retry_after=exc.retry_after,
                duration_ms=_ms(started),
            )
        except Exception as exc:  # a provider bug: treat as transient, keep the evidence
            log.exception("provider_crashed", message_id=row["id"], provider=row["provider"])
            return Outcome(
                error=f"{row['provider']} provider error: {exc!r}", duration_ms=_ms(started)
            )
        return Outcome(sent=sent, duration_ms=_ms(started))

    # ---------------------------------------------------------------- recording

    def _record(self, row: dict[str, Any], outcome: Outcome) -> None:
        self._record_all([(row, outcome)])

    def _record_all(self, results: list[tuple[dict[str, Any], Outcome]]) -> None:
        """Record outcomes: accepted sends together, failures one by one (rare, and each
        decides its own retry)."""
        accepted = [(row, o) for row, o in results if o.sent is not None]
        if accepted:
            self._record_accepted(accepted)
        for row, outcome in results:
            if outcome.sent is None:
                self._record_failure(row, outcome)

    def _record_accepted(self, accepted: list[tuple[dict[str, Any], Outcome]]) -> None:
        records = [
            store.Accepted(
                owner=self._owner(row),
                delivered=o.sent.delivered,
                provider_message_id=o.sent.provider_message_id,
                log_message=f"{row['dest_type']} notification sent to {row['dest_name']}",
            )
            for row, o in accepted
            if o.sent is not None
        ]
        try:
            recorded = self._with_db(lambda c: store.record_sent(c, records))
        except (psycopg.Error, OSError) as exc:
            recorded = None
            error = postgres.describe_error(exc)
        for row, outcome in accepted:
            mlog = self._log_for(row, outcome)
            if recorded is None:
                # The claim expires and the engine takes the message back: delayed, not lost.
                self.counts["lost"] += 1
                mlog.error("message_outcome_not_recorded", error=error)
            elif int(row["id"]) in recorded:
                self.counts["sent"] += 1
                assert outcome.sent is not None
                mlog.info("message_sent", delivered=outcome.sent.delivered)
            else:
                self.counts["lost"] += 1
                mlog.warning("message_claim_lost")

    def _record_failure(self, row: dict[str, Any], outcome: Outcome) -> None:
        owner = self._owner(row)
        mlog = self._log_for(row, outcome)
        delay = (
            0.0 if outcome.permanent else backoff(self.settings, owner.attempt, outcome.retry_after)
        )
        try:
            status = self._with_db(
                lambda c: store.record_failure(
                    c, owner, error=outcome.error, permanent=outcome.permanent, delay=delay
                )
            )
        except (psycopg.Error, OSError) as exc:
            self.counts["lost"] += 1
            mlog.error("message_outcome_not_recorded", error=postgres.describe_error(exc))
            return
        if status is None:
            self.counts["lost"] += 1
            mlog.warning("message_claim_lost", error=outcome.error)
        elif status == "pending":
            self.counts["retry"] += 1
            mlog.warning("message_send_failed", error=outcome.error, retry_in=round(delay, 3))
        else:
            self.counts["failed"] += 1
            mlog.error("message_failed", error=outcome.error, permanent=outcome.permanent)

    def _owner(self, row: dict[str, Any]) -> store.Claim:
        return store.Claim(int(row["id"]), self.worker, int(row["attempts"]))

    def _log_for(self, row: dict[str, Any], outcome: Outcome) -> Any:
        return log.bind(
            message_id=int(row["id"]),
            kind=row["kind"],
            dest_type=row["dest_type"],
            provider=row["provider"],
            attempt=int(row["attempts"]),
            duration_ms=outcome.duration_ms,
        )


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _worker_name() -> str:
    """The RQ worker running this job (claimed_by), with the horse's pid."""
    from rq import get_current_job

    job = get_current_job()
    name = job.worker_name if job is not None and job.worker_name else "worker"
    return f"{name}/{os.getpid()}"
