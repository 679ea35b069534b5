"""The dispatch engine module: which pending messages get a job, when, and in which job.

Runs the module as the engine does (a ModuleContext on this test's Postgres and Redis); delivery
jobs are taken off the real queue and run in-process (see test_delivery.Rig).
"""

from __future__ import annotations

import threading

import psycopg

from app.messages.dispatch_pass import Dispatcher
from app.platform.embedded import free_port
from app.platform.engine_pass import ModuleContext
from app.platform.redis_client import make_redis
from config.settings import RedisTls
from tests.integration import test_delivery as shared
from tests.integration.test_delivery import history, make_method, message, message_ids, row
from tests.support.fakes.webhook import Behaviour
from tests.support.wait import wait_until

rig_for = shared.rig_for  # the fixture: dispatch and in-process delivery on this test's servers


def test_a_destination_throttle_defers_the_excess(db_conn, rig_for, webhook_receiver):
    rig = rig_for(KLAXON_THROTTLE="webhook=2/60")
    method = make_method(db_conn, webhook_receiver.url())
    other = make_method(db_conn, webhook_receiver.url("/other"))
    ids = [message(db_conn, method) for _ in range(3)]
    other_id = message(db_conn, other)
    rig.dispatch()
    queued = sorted(m for job in rig.jobs() for m in job.args[0])
    assert queued == [ids[0], ids[1], other_id]
    deferred = row(db_conn, ids[2])
    assert deferred["job_id"] is None and 55 < deferred["due_in"] <= 60
    rig.dispatch()  # still full: nothing more for that destination
    assert sorted(m for job in rig.jobs() for m in job.args[0]) == queued


def test_a_provider_rate_spreads_messages_over_time(db_conn, rig_for, webhook_receiver):
    rig = rig_for(KLAXON_PROVIDER_RATE="webhook=2")
    ids = [message(db_conn, make_method(db_conn, webhook_receiver.url())) for _ in range(5)]
    due_in = rig.dispatch()
    first = sorted(m for job in rig.jobs() for m in job.args[0])
    assert first == ids[:2]  # one second's burst
    assert due_in is not None and 0 < due_in <= 0.5
    wait_until(
        lambda: rig.dispatch() is not None and len([m for j in rig.jobs() for m in j.args[0]]) >= 5,
        5,
        "the rest queued at 2/s",
    )


def test_a_row_left_sending_by_a_dead_worker_is_taken_back_and_resent(
    db_conn, rig_for, webhook_receiver
):
    rig = rig_for()
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()))
    db_conn.execute(
        "UPDATE outgoing_messages SET status = 'sending', attempts = 1, claimed_by = 'dead', "
        "claimed_until = now() - interval '1 second', job_id = 'klaxon-msg-x', "
        "enqueued_at = now() WHERE id = %s",
        (mid,),
    )
    rig.dispatch()
    taken = row(db_conn, mid)
    assert taken["status"] == "pending" and "worker stopped mid-send" in taken["last_error"]
    [job] = rig.jobs()
    assert job.id == f"klaxon-msg-{mid}-2-1"
    rig.work()
    assert row(db_conn, mid)["status"] == "delivered"
    assert [s for s, _, _ in history(db_conn, mid)] == [
        "pending", "sending", "pending", "sending", "delivered",
    ]  # fmt: skip


def test_a_row_left_sending_on_its_last_attempt_fails(db_conn, rig_for, webhook_receiver):
    rig = rig_for()
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()), max_attempts=1)
    db_conn.execute(
        "UPDATE outgoing_messages SET status = 'sending', attempts = 1, "
        "claimed_until = now() - interval '1 second' WHERE id = %s",
        (mid,),
    )
    rig.dispatch()
    assert row(db_conn, mid)["status"] == "failed"
    assert rig.jobs() == []


def test_a_job_lost_from_redis_is_queued_again_after_the_grace_period(
    db_conn, rig_for, webhook_receiver
):
    rig = rig_for(KLAXON_MESSAGE_GRACE="1")
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()))
    rig.dispatch()
    [job] = rig.jobs()
    rig.dispatch()
    assert [j.id for j in rig.jobs()] == [job.id]  # a live job is never doubled
    rig.redis.flushall()
    rig.dispatch()
    assert rig.jobs() == []  # within the grace period: not yet
    wait_until(lambda: bool(rig.dispatch() is not None and rig.jobs()), 5, "the job re-queued")
    [again] = rig.jobs()
    assert again.id == f"klaxon-msg-{mid}-1-2"
    rig.work()
    assert message_ids(webhook_receiver.requests()) == [mid]


def test_a_job_still_queued_after_the_grace_period_is_not_doubled(
    db_conn, rig_for, webhook_receiver
):
    rig = rig_for(KLAXON_MESSAGE_GRACE="0.2")
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()))
    rig.dispatch()
    wait_until(lambda: row(db_conn, mid)["due_in"] < -0.3, 5, "the grace period over")
    rig.dispatch()
    assert len(rig.jobs()) == 1


def test_messages_are_batched_into_jobs(db_conn, rig_for, webhook_receiver):
    rig = rig_for(KLAXON_DELIVERY_BATCH="4", KLAXON_THROTTLE="webhook=100/60")
    method = make_method(db_conn, webhook_receiver.url())
    ids = [message(db_conn, method) for _ in range(10)]
    rig.dispatch()
    assert sorted(len(j.args[0]) for j in rig.jobs()) == [2, 4, 4]
    rig.work()
    assert sorted(message_ids(webhook_receiver.requests())) == ids


def test_two_engines_dispatching_at_once_queue_each_message_once(
    db_conn, rig_for, webhook_receiver
):
    rig = rig_for(KLAXON_THROTTLE="webhook=10000/60", KLAXON_DELIVERY_BATCH="7")
    method = make_method(db_conn, webhook_receiver.url())
    ids = [message(db_conn, method) for _ in range(300)]
    other = Dispatcher()
    ctx = ModuleContext(rig.settings, rig.redis, rig.database)
    threads = [
        threading.Thread(target=rig.dispatch),
        threading.Thread(target=lambda: other.run(ctx)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    rig.dispatch()  # whatever one engine skipped as locked by the other
    queued = [m for job in rig.jobs() for m in job.args[0]]
    assert sorted(queued) == ids


def test_a_row_is_committed_before_its_job_and_a_failed_enqueue_is_repaired(
    db_conn, rig_for, webhook_receiver
):
    rig = rig_for(KLAXON_MESSAGE_GRACE="0.5")
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()))
    dead_redis = make_redis(f"redis://127.0.0.1:{free_port()}/0", 0.5, RedisTls())
    try:
        broken = ModuleContext(rig.settings, dead_redis, rig.database)
        try:
            Dispatcher().run(broken)
        except Exception:  # the engine logs a failed module and carries on
            pass
        else:
            raise AssertionError("dispatch with Redis down should have failed")
    finally:
        dead_redis.close()
    noted = row(db_conn, mid)
    assert noted["job_id"] == f"klaxon-msg-{mid}-1-1" and noted["enqueued_at"] is not None
    assert rig.jobs() == []
    wait_until(lambda: bool(rig.dispatch() is not None and rig.jobs()), 5, "the job queued")
    [job] = rig.jobs()
    assert job.id == f"klaxon-msg-{mid}-1-2"
    rig.work()
    assert message_ids(webhook_receiver.requests()) == [mid]


def test_dispatch_says_when_the_next_retry_is_due(db_conn, rig_for, webhook_receiver):
    rig = rig_for(KLAXON_MINUTE_SECONDS="24", KLAXON_ENGINE_CYCLE="30")  # backoff 1-2 s
    webhook_receiver.behaviour = Behaviour(status=500)
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()))
    rig.dispatch()
    rig.work()
    due_in = rig.dispatch()
    assert due_in is not None
    assert abs(due_in - float(row(db_conn, mid)["due_in"])) < 0.2 and 0.9 < due_in <= 2.0


def test_a_scheduled_retry_wakes_the_engine(db_conn, database_url, rig_for, webhook_receiver):
    rig = rig_for()
    webhook_receiver.behaviour = Behaviour(status=503)
    mid = message(db_conn, make_method(db_conn, webhook_receiver.url()))
    rig.dispatch()
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute("LISTEN klaxon_events")
        rig.work()
        notices = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    assert notices == [f'{{"message_id" : {mid}}}']


def test_with_jobs_waiting_a_partial_batch_is_held_back_briefly_to_fill_up(
    db_conn, rig_for, webhook_receiver
):
    rig = rig_for(KLAXON_DELIVERY_BATCH="5", KLAXON_THROTTLE="webhook=1000/60")
    method = make_method(db_conn, webhook_receiver.url())
    full = [message(db_conn, method) for _ in range(12)]
    rig.dispatch()  # queue empty: everything goes, the partial batch too
    assert sorted(len(j.args[0]) for j in rig.jobs()) == [2, 5, 5]
    held = [message(db_conn, method) for _ in range(3)]
    due_in = rig.dispatch()  # three jobs waiting: three messages are not worth a job yet
    assert len(rig.jobs()) == 3 and row(db_conn, held[0])["job_id"] is None
    assert due_in is not None and due_in <= 0.05
    wait_until(lambda: rig.dispatch() is not None and len(rig.jobs()) == 4, 5, "held batch sent")
    assert sorted(rig.jobs()[-1].args[0]) == held
    rig.work()
    assert sorted(message_ids(webhook_receiver.requests())) == [*full, *held]


def test_a_new_leader_counts_what_the_old_one_queued_against_the_throttle(
    db_conn, rig_for, webhook_receiver
):
    rig = rig_for(KLAXON_THROTTLE="webhook=2/60")
    method = make_method(db_conn, webhook_receiver.url())
    first = [message(db_conn, method) for _ in range(2)]
    rig.dispatch()
    assert sorted(m for job in rig.jobs() for m in job.args[0]) == first
    later = message(db_conn, method)
    new_leader = Dispatcher()  # empty memory: it must learn the window from Postgres
    new_leader.run(ModuleContext(rig.settings, rig.redis, rig.database))
    assert row(db_conn, later)["job_id"] is None and 55 < row(db_conn, later)["due_in"] <= 60
