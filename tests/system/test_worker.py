"""`klaxon worker` as an operator runs it: burst, chosen queues, scheduler, unique names."""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.job import JobStatus

from tests.support.procs import klaxon_bin
from tests.support.wait import wait_until

pytestmark = pytest.mark.system


def test_burst_worker_runs_queued_jobs_and_exits_0(klaxon_env, redis_url, spawn):
    client = Redis.from_url(redis_url)
    jobs = [
        Queue(name, connection=client).enqueue("workers.jobs.probe", kwargs={"value": name})
        for name in ("klaxon-notify", "klaxon-default")
    ]
    worker = spawn([klaxon_bin("klaxon"), "worker", "--burst"], klaxon_env, name="burst")
    assert worker.wait(30) == 0
    assert [j.latest_result().return_value for j in jobs] == ["klaxon-notify", "klaxon-default"]


def test_worker_serves_only_the_queues_it_is_given(klaxon_env, redis_url, start_worker):
    start_worker(klaxon_env, "--queues", "klaxon-default")
    client = Redis.from_url(redis_url)
    (registered,) = Worker.all(connection=client)
    assert registered.queue_names() == ["klaxon-default"]


def test_two_workers_of_one_instance_get_distinct_names(klaxon_env, redis_url, start_worker):
    start_worker(klaxon_env, name="w1")
    start_worker(klaxon_env, name="w2")
    names = {w.name for w in Worker.all(connection=Redis.from_url(redis_url))}
    assert len(names) == 2
    assert all(name.startswith(klaxon_env["DYNO"] + ".") for name in names)


def test_with_scheduler_runs_scheduled_jobs(klaxon_env, redis_url, start_worker):
    start_worker(klaxon_env, "--with-scheduler")
    client = Redis.from_url(redis_url)
    job = Queue("klaxon-default", connection=client).enqueue_in(
        timedelta(seconds=1), "workers.jobs.probe", kwargs={"value": "later"}
    )
    assert job.get_status() == JobStatus.SCHEDULED
    wait_until(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, 20, "scheduled job ran")
    assert job.latest_result().return_value == "later"


def test_worker_ttl_is_short_enough_for_healthz(klaxon_env, redis_url, start_worker):
    start_worker({**klaxon_env, "KLAXON_WORKER_TTL": "20"})
    client = Redis.from_url(redis_url)
    (registered,) = Worker.all(connection=client)
    # RQ keeps a worker's key for worker_ttl + 60 s; RQ's default would give 480 s.
    assert 0 < client.ttl(registered.key) <= 20 + 60
