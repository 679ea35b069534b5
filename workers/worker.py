"""`klaxon worker`: an RQ worker that runs the preflight before it registers with Redis.

A worker that registers and then fails stays listed as alive for minutes (a phantom in
`rq info` and rq-dashboard), so every check runs first and a failure is a fatal init error:
logged, recorded under klaxon:fatal:worker:<instance>, exit 1.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
from collections.abc import Sequence
from typing import Any

import structlog
from rq import Queue, Worker
from rq.job import Job
from rq.worker import WorkerStatus

from app.platform import alive
from app.platform.queues import ALL_QUEUES, NOTIFY_QUEUE
from app.platform.redis_client import make_redis
from app.platform.startup import load_or_exit, preflight_or_exit
from app.providers import registry  # noqa: F401 - likewise: providers and their libraries
from app.providers.preflight_checks import checks_for
from workers import delivery  # noqa: F401 - loaded once here, so each forked job starts warm
from workers.commands import CommandListener, listen_for_commands, stop_listening

log = structlog.get_logger(__name__)

# A job may run this long (seconds) before RQ kills it; inside Heroku's 30 s SIGTERM budget, so a
# warm shutdown never has to cut a job off.
DEFAULT_JOB_TIMEOUT = 20
# Seconds a liveness promise (app.platform.alive) allows beyond RQ's next heartbeat: a loaded
# machine.
ALIVE_MARGIN = 15


class KlaxonWorker(Worker):
    """RQ's forking worker, with a work horse that survives a process-group SIGTERM, and
    delivery jobs run without a fork (see `execute_job`).

    Heroku (and honcho) signal every process of the dyno, the forked horse included. RQ's horse
    dies on SIGTERM, cutting off a send in flight; here the horse ignores SIGTERM/SIGINT and the
    main process does the warm shutdown: the job in hand finishes, then the worker exits. A
    second signal is a cold shutdown (RQ kills the horse; the job is retried, not lost).
    """

    early_stop: threading.Event | None = None  # set by a signal that came before work()
    command_listener: CommandListener | None = None

    def subscribe(self) -> None:
        # RQ's own subscription polls every 60 s and, with redis-py 8, its stop waits out that
        # poll: a stop soon after start took 60 s. Ours polls briefly and stops within a bound.
        self.command_listener = listen_for_commands(
            self.connection, self.pubsub_channel_name, self.handle_payload
        )
        log.info("worker_listening", channel=self.pubsub_channel_name)

    def unsubscribe(self) -> None:
        if self.command_listener is not None:
            stop_listening(self.command_listener)
            self.command_listener = None

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Delivery jobs run in this process; every other job in a forked work horse.

        A fork costs ~100 ms per job here, which capped delivery at ~200 messages/s across two
        workers and let a backlog build behind a steady 50 alerts/s. Delivery jobs need no fork
        for safety: each message is claimed in Postgres before it is sent, so a worker that
        dies mid-job leaves rows the engine takes back after their claim expires, and a job
        that overruns is still stopped by RQ's timer (SIGALRM works in the main thread). In
        this process the webhook connection pool and the settings stay warm between jobs.
        """
        if queue.name != NOTIFY_QUEUE:
            super().execute_job(job, queue)
            return
        self.prepare_execution(job)
        self.perform_job(job, queue)
        self.set_state(WorkerStatus.IDLE)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        # Before Redis: the exec probe asks whether this loop turns, not whether Redis answers.
        alive.promise("worker", (timeout or self.worker_ttl) + ALIVE_MARGIN)
        super().heartbeat(timeout, pipeline)

    def get_heartbeat_ttl(self, job: Job) -> int:
        # A job run in this process cannot heartbeat while it runs (no horse to monitor), so
        # the worker key must outlive the whole job, as RQ's SimpleWorker arranges.
        if job.origin == NOTIFY_QUEUE:
            return int(job.timeout or DEFAULT_JOB_TIMEOUT) + 60
        return int(super().get_heartbeat_ttl(job))

    def setup_work_horse_signals(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        # RQ registers the worker here but installs its own signal handlers only afterwards; a
        # SIGTERM in between would kill a registered worker (a phantom in rq-dashboard). Until
        # then a signal only asks the work loop to stop before its first job.
        def stop_before_first_job(_signum: int, _frame: Any) -> None:
            self._stop_requested = True

        signal.signal(signal.SIGTERM, stop_before_first_job)
        signal.signal(signal.SIGINT, stop_before_first_job)
        if self.early_stop is not None and self.early_stop.is_set():
            self._stop_requested = True
        super().bootstrap(*args, **kwargs)


def catch_early_stop() -> threading.Event:
    """From now until the worker's own handlers take over, SIGTERM/SIGINT only set this flag,
    so a stop during the preflight ends the process cleanly (exit 0) instead of killing it."""
    requested = threading.Event()

    def note(_signum: int, _frame: Any) -> None:
        requested.set()

    signal.signal(signal.SIGTERM, note)
    signal.signal(signal.SIGINT, note)
    return requested


def worker_name(instance: str) -> str:
    """Unique per boot: RQ refuses a name whose previous owner's key has not expired yet."""
    return f"{instance}.{os.getpid()}.{secrets.token_hex(3)}"


def announce_queues(queues: Sequence[Queue]) -> None:
    """List the queues in RQ's queue registry, as RQ does on first enqueue, so rq-dashboard and
    `rq info` show Klaxon's queues before any job was ever queued."""
    for queue in queues:
        queue.connection.sadd(Queue.redis_queues_keys, queue.key)


def run_worker(
    queues: Sequence[str] | None = None, *, burst: bool = False, with_scheduler: bool = False
) -> int:
    """Preflight, then serve `queues` (default: every Klaxon queue) until stopped."""
    early_stop = catch_early_stop()
    settings = load_or_exit("worker")
    preflight_or_exit(settings, "worker", checks_for("worker", settings))
    if early_stop.is_set():
        log.info("worker_stopped", reason="stop requested during preflight")
        return 0
    connection = make_redis(
        settings.redis_url, settings.check_timeout, settings.redis_tls, retries=True
    )
    names = list(queues or ALL_QUEUES)
    rq_queues = [
        Queue(name, connection=connection, default_timeout=DEFAULT_JOB_TIMEOUT) for name in names
    ]
    announce_queues(rq_queues)
    worker = KlaxonWorker(
        rq_queues,
        connection=connection,
        name=worker_name(settings.instance),
        worker_ttl=settings.worker_ttl,
    )
    worker.early_stop = early_stop
    structlog.contextvars.bind_contextvars(worker=worker.name)
    log.info("worker_starting", queues=names, burst=burst, with_scheduler=with_scheduler)
    worker.work(
        burst=burst, with_scheduler=with_scheduler, logging_level=settings.log_level.upper()
    )
    log.info("worker_stopped")
    return 0
