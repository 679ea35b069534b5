"""Engine module `dispatch`: queue RQ delivery jobs for due pending messages.

Each cycle (woken at once by the NOTIFY every message insert sends):

1. Messages left `sending` past their claim (a worker killed mid-send) go back to `pending`,
   or to `failed` on their last attempt.
2. Due `pending` messages with no live job are picked with `FOR UPDATE SKIP LOCKED`: those never
   queued (or due for a retry), and those queued more than KLAXON_MESSAGE_GRACE ago whose job
   is gone from Redis (flushed, or the engine died between commit and enqueue) — checked with
   one pipelined HGET of the jobs' status.
3. Throttles: per destination (KLAXON_THROTTLE, count per window over what was queued to it in
   the window; the excess is deferred through not_before) and per provider
   (KLAXON_PROVIDER_RATE, messages per second; the excess waits for a later cycle).
4. Messages are grouped into jobs of up to KLAXON_DELIVERY_BATCH; each row records its job id
   and the transaction COMMITS before the jobs are queued, so a row always exists before its
   job. A crash between commit and enqueue is repaired by step 2 after the grace period.

Job ids carry the first message id, its attempt and enqueue count (`klaxon-msg-<id>-<attempt>-
<enqueue count>`), so a retry is never blocked by an old job's key.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from app.messages import store
from app.platform.engine_pass import EngineModule, ModuleContext
from app.platform.queues import DELIVERY_JOB, MAX_THREADS, NOTIFY_QUEUE
from config.settings import DeliverySettings

log = structlog.get_logger(__name__)

NAME = "dispatch"
TIMEOUT = 10.0  # seconds one dispatch run may take before the engine logs it as stuck
CANDIDATE_LIMIT = 2000  # messages looked at per cycle; more wait for the next (soon) cycle
JOB_MARGIN = 10  # seconds a job may run beyond its sends' budget before RQ kills it
FAILURE_TTL = 86400  # seconds a failed job stays in RQ's failed registry for inspection
LIVE_STATUSES = {b"queued", b"deferred", b"scheduled"}
# A job marked started this long after it was queued (seconds, beyond the grace period) is
# presumed dead (its horse was killed before it claimed anything): RQ only notices much later.
STARTED_LIMIT = 120.0
RECHECK_FLOOR = 1.0  # seconds; shortest wait before re-checking jobs that were still alive
# Backpressure: while this many jobs already wait in the queue (workers are busy), a partial
# batch is held back for up to HOLD_MAX seconds so it fills up. Bigger jobs amortise RQ's
# per-job cost (a fork, a connection) exactly when that cost is the bottleneck; with the queue
# empty every message goes out at once, so an idle system keeps its latency.
BACKLOG_JOBS = 2
HOLD_MAX = 0.5  # seconds a due message may be held back to fill a batch
HOLD_RECHECK = 0.05  # seconds until a held-back partial batch is looked at again


def job_id(first: store.Candidate) -> str:
    """The RQ job id of a batch led by `first`, unique per attempt and enqueue."""
    return f"klaxon-msg-{first.id}-{first.attempts + 1}-{first.enqueue_count + 1}"


@dataclass
class ProviderBuckets:
    """Token buckets (tokens = messages) per provider, refilled at KLAXON_PROVIDER_RATE/s with
    at most one second of burst. Kept in the leading engine's memory: a new leader starts full,
    which at worst allows one extra second's worth."""

    rates: dict[str, float]
    tokens: dict[str, float] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    def refill(self) -> None:
        now = time.monotonic()
        for provider, rate in self.rates.items():
            if rate > 0:
                burst = max(rate, 1.0)
                held = self.tokens.get(provider, burst)
                self.tokens[provider] = min(burst, held + (now - self.at) * rate)
        self.at = now

    def take(self, provider: str) -> bool:
        if self.rates.get(provider, 0) <= 0:
            return True
        if self.tokens.get(provider, 0.0) >= 1.0:
            self.tokens[provider] -= 1.0
            return True
        return False

    def give_back(self, provider: str) -> None:
        if self.rates.get(provider, 0) > 0:
            self.tokens[provider] = self.tokens.get(provider, 0.0) + 1.0

    def wait(self, provider: str) -> float:
        """Seconds until `provider` has a token again."""
        rate = self.rates.get(provider, 0)
        return 0.0 if rate <= 0 else max(0.0, (1.0 - self.tokens.get(provider, 0.0)) / rate)


@dataclass
class SendWindows:
    """Per destination, when messages were queued to it (Unix seconds) within its throttle
    window: counted in the leading engine's memory, seeded from Postgres the first time a
    destination is seen, so the throttle costs no query per cycle. Forgotten after a gap in
    runs (this engine stopped leading: another may have queued meanwhile)."""

    times: dict[str, deque[float]] = field(default_factory=dict)
    last_run: float = 0.0

    def start(self, gap: float, longest_window: float) -> None:
        now = time.time()
        if now - self.last_run > gap:
            self.times.clear()
        self.last_run = now
        stale = [d for d, t in self.times.items() if not t or t[-1] < now - longest_window]
        for destination in stale:
            del self.times[destination]

    def known(self, destination: str) -> bool:
        return destination in self.times

    def seed(self, destination: str, times: list[float]) -> None:
        self.times[destination] = deque(times)

    def usage(self, destination: str, window: float, now: float) -> tuple[int, float]:
        """(messages queued within `window`, the oldest of those — or now if none)."""
        queued = self.times.setdefault(destination, deque())
        while queued and queued[0] < now - window:
            queued.popleft()
        return len(queued), queued[0] if queued else now

    def note(self, destination: str, at: float) -> None:
        self.times.setdefault(destination, deque()).append(at)


class Dispatcher:
    """The dispatch module's state (provider buckets, send windows) and one run per cycle."""

    def __init__(self) -> None:
        self._buckets: ProviderBuckets | None = None
        self._windows: SendWindows | None = None

    def run(self, ctx: ModuleContext) -> float | None:
        delivery = ctx.settings.delivery
        if self._buckets is None:
            self._buckets = ProviderBuckets(dict(delivery.provider_rates))
            self._windows = SendWindows()
        assert self._windows is not None
        self._buckets.refill()
        longest = max((t.window for t in delivery.throttles.values()), default=0.0)
        self._windows.start(2 * ctx.settings.engine_cycle + TIMEOUT, longest)
        # One transaction per cycle (the engine runs one every few ms under load), committed
        # before any job is queued: a row always exists, marked, before its job.
        with ctx.database.transaction() as conn:
            taken = store.take_back_stuck(conn)
            jobs, wait_for = self._plan(conn, ctx.redis, delivery)
            due = store.next_due(conn, delivery.message_grace)
        for message_id, status in taken:
            log.warning("message_taken_back", message_id=message_id, status=status)
        if jobs:
            self._enqueue(ctx.redis, jobs, delivery)
        return _soonest(due, wait_for)

    def _plan(
        self, conn: Any, redis: Redis, delivery: DeliverySettings
    ) -> tuple[list[tuple[str, list[int]]], float | None]:
        """Pick, throttle and group due messages, and mark them with their jobs."""
        assert self._buckets is not None
        wait_for: float | None = None
        candidates = store.due_candidates(conn, delivery.message_grace, CANDIDATE_LIMIT)
        if len(candidates) >= CANDIDATE_LIMIT:
            wait_for = 0.0
        candidates = _without_live_jobs(redis, candidates)
        candidates = self._destination_throttle(conn, candidates, delivery)
        chosen: list[store.Candidate] = []
        for c in candidates:
            if self._buckets.take(c.provider):
                chosen.append(c)
            else:
                wait = self._buckets.wait(c.provider)
                wait_for = wait if wait_for is None else min(wait_for, wait)
        chosen, held = _hold_partial(redis, chosen, delivery.batch)
        if held:
            for c in held:
                self._buckets.give_back(c.provider)
            wait_for = HOLD_RECHECK if wait_for is None else min(wait_for, HOLD_RECHECK)
        jobs = _group(chosen, delivery.batch)
        store.mark_enqueued(conn, {m: jid for jid, ids in jobs for m in ids})
        assert self._windows is not None
        now = time.time()
        for c in chosen:
            if c.dest_type in delivery.throttles:
                self._windows.note(c.destination, now)
        return jobs, wait_for

    def _destination_throttle(
        self, conn: Any, candidates: list[store.Candidate], delivery: DeliverySettings
    ) -> list[store.Candidate]:
        """The candidates within their destination's throttle; the rest are deferred."""
        assert self._windows is not None
        throttled = [c for c in candidates if c.dest_type in delivery.throttles]
        unknown = {
            c.destination: delivery.throttles[c.dest_type].window
            for c in throttled
            if not self._windows.known(c.destination)
        }
        if unknown:  # first sight while leading: what was queued to it, from Postgres
            history = store.throttle_history(conn, unknown, [c.id for c in candidates])
            for destination in unknown:
                self._windows.seed(destination, history.get(destination, []))
        now = time.time()
        deferred: dict[int, datetime] = {}
        taken: dict[str, int] = {}  # this cycle's, noted in the windows once actually queued
        for c in throttled:
            limit = delivery.throttles[c.dest_type]
            used, oldest = self._windows.usage(c.destination, limit.window, now)
            if used + taken.get(c.destination, 0) < limit.count:
                taken[c.destination] = taken.get(c.destination, 0) + 1
            else:
                deferred[c.id] = datetime.fromtimestamp(oldest + limit.window, UTC)
        if deferred:
            store.defer(conn, deferred)
            log.info("messages_throttled", count=len(deferred))
        return [c for c in candidates if c.id not in deferred]

    def _enqueue(
        self, redis: Redis, jobs: list[tuple[str, list[int]]], delivery: DeliverySettings
    ) -> None:
        queue = Queue(NOTIFY_QUEUE, connection=redis)
        data = []
        for jid, ids in jobs:
            rounds = math.ceil(len(ids) / MAX_THREADS)
            data.append(
                Queue.prepare_data(
                    DELIVERY_JOB,
                    args=(ids,),
                    job_id=jid,
                    timeout=int(rounds * delivery.send_timeout + JOB_MARGIN),
                    result_ttl=0,  # a finished job's key must vanish: dispatch reads "gone"
                    failure_ttl=FAILURE_TTL,
                    description=f"deliver messages {ids[0]}..{ids[-1]} ({len(ids)})",
                )
            )
        with redis.pipeline() as pipe:
            queue.enqueue_many(data, pipeline=pipe)
            pipe.execute()
        log.info("messages_enqueued", jobs=len(jobs), messages=sum(len(ids) for _, ids in jobs))


def _without_live_jobs(redis: Redis, candidates: list[store.Candidate]) -> list[store.Candidate]:
    """Drop candidates whose earlier job is still queued or running (one pipelined round trip)."""
    queued = [c for c in candidates if c.job_id is not None]
    if not queued:
        return candidates
    with redis.pipeline(transaction=False) as pipe:
        for c in queued:
            pipe.hget(f"rq:job:{c.job_id}", "status")
        statuses = pipe.execute()
    live: set[int] = set()
    for c, status in zip(queued, statuses, strict=True):
        if status in LIVE_STATUSES or (status == b"started" and _recent(c)):
            live.add(c.id)
    gone = len(queued) - len(live)
    if gone:
        log.warning("message_jobs_gone", count=gone)
    return [c for c in candidates if c.id not in live]


def _hold_partial(
    redis: Redis, chosen: list[store.Candidate], batch: int
) -> tuple[list[store.Candidate], list[store.Candidate]]:
    """(to queue, held back): with a backlog of jobs, a partial last batch waits to fill up,
    unless one of its messages has waited HOLD_MAX already."""
    partial = len(chosen) % batch
    if not partial:
        return chosen, []
    tail = chosen[-partial:]
    if max(c.waited for c in tail) >= HOLD_MAX or any(c.job_id for c in tail):
        return chosen, []
    try:
        backlog = int(redis.llen(f"rq:queue:{NOTIFY_QUEUE}"))
    except RedisError:
        backlog = 0  # the enqueue will tell; the grace re-check repairs what it could not queue
    if backlog < BACKLOG_JOBS:
        return chosen, []
    return chosen[:-partial], tail


def _recent(c: store.Candidate) -> bool:
    if c.enqueued_at is None:
        return False
    age = (datetime.now(c.enqueued_at.tzinfo) - c.enqueued_at).total_seconds()
    return age < STARTED_LIMIT


def _group(chosen: list[store.Candidate], batch: int) -> list[tuple[str, list[int]]]:
    """Jobs of up to `batch` messages, each named for its first message."""
    jobs = []
    for start in range(0, len(chosen), batch):
        part = chosen[start : start + batch]
        jobs.append((job_id(part[0]), [c.id for c in part]))
    return jobs


def _soonest(due: dict[str, float | None], wait_for: float | None) -> float | None:
    """Seconds until the next work: a not_before, a claim expiry, a grace expiry (floored, so
    jobs that were still alive are not re-checked in a spin), or a provider token."""
    values = []
    # Due-now rows left behind were held by a provider rate: its token wait says when to look.
    if due["due"] is not None and (due["due"] > 0 or wait_for is None):
        values.append(max(due["due"], 0.0))
    if due["claim"] is not None:
        values.append(max(due["claim"], 0.0))
    if due["grace"] is not None:
        values.append(max(due["grace"], RECHECK_FLOOR))
    if wait_for is not None:
        values.append(wait_for)
    return min(values) if values else None


MODULE = EngineModule(name=NAME, run=Dispatcher().run, timeout=TIMEOUT)
