"""`klaxon worker`: an RQ worker that runs the preflight before it registers with Redis.

A worker that registers and then fails stays listed as alive for minutes (a phantom in
`rq info` and rq-dashboard), so every check runs first and a failure is a fatal init error:
logged, recorded under klaxon:fatal:worker:<instance>, exit 1.
"""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Sequence

import structlog
from rq import Queue, Worker

from app.process_checks import checks_for
from app.redis_client import make_redis
from app.startup import load_or_exit, preflight_or_exit
from workers.queues import ALL_QUEUES

log = structlog.get_logger(__name__)

# A job may run this long (seconds) before RQ kills it; inside Heroku's 30 s SIGTERM budget, so a
# warm shutdown never has to cut a job off.
DEFAULT_JOB_TIMEOUT = 20


class KlaxonWorker(Worker):
    """RQ's forking worker, with a work horse that survives a process-group SIGTERM.

    Heroku (and honcho) signal every process of the dyno, the forked horse included. RQ's horse
    dies on SIGTERM, cutting off a send in flight; here the horse ignores SIGTERM/SIGINT and the
    main process does the warm shutdown: the job in hand finishes, then the worker exits. A
    second signal is a cold shutdown (RQ kills the horse; the job is retried, not lost).
    """

    def setup_work_horse_signals(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


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
    settings = load_or_exit("worker")
    preflight_or_exit(settings, "worker", checks_for("worker", settings))
    connection = make_redis(settings.redis_url, settings.check_timeout, retries=True)
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
    structlog.contextvars.bind_contextvars(worker=worker.name)
    log.info("worker_starting", queues=names, burst=burst, with_scheduler=with_scheduler)
    worker.work(
        burst=burst, with_scheduler=with_scheduler, logging_level=settings.log_level.upper()
    )
    log.info("worker_stopped")
    return 0
