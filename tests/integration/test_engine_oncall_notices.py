"""On-call notices: a schedule's notice channel hears about each change of who is on call."""

from __future__ import annotations

import pytest

from app.oncall import notice_pass as oncall_notices
from tests.support import engine_world as w
from tests.support.engine_world import _make_ctx  # noqa: F401 - the make_ctx fixture
from tests.support.wait import wait_until


@pytest.fixture
def ctx(make_ctx):
    return make_ctx()


def schedule_with_notices(conn, user_id, channel_id):
    row = conn.execute(
        "INSERT INTO schedules (name, time_zone, notice_channel_id) "
        "VALUES ('primary', 'Europe/London', %s) RETURNING id::text AS id",
        (channel_id,),
    ).fetchone()
    conn.execute(
        "INSERT INTO schedule_rules (schedule_id, target_type, user_id) VALUES (%s, 'user', %s)",
        (row["id"], user_id),
    )
    return row["id"]


def notice_state(conn, schedule_id):
    return conn.execute(
        "SELECT notice_state FROM schedules WHERE id = %s", (schedule_id,)
    ).fetchone()["notice_state"]


def test_a_shift_change_posts_one_notice_to_the_channel(db_conn, ctx):
    alice, bob = w.user(db_conn, "alice"), w.user(db_conn, "bob")
    room = w.channel(db_conn)
    schedule_id = schedule_with_notices(db_conn, alice, room)
    # Bob takes over in a moment (a replace override), for an hour.
    db_conn.execute(
        "INSERT INTO schedule_overrides (schedule_id, kind, add_user_id, remove_user_id, "
        "start_at, end_at) VALUES (%s, 'replace', %s, %s, now() + interval '1.5 seconds', "
        "now() + interval '1 hour')",
        (schedule_id, bob, alice),
    )

    due_in = oncall_notices.run(ctx)  # the first look records who is on call, posts nothing
    assert notice_state(db_conn, schedule_id) == [alice]
    assert w.messages(db_conn) == []
    assert due_in is not None and 0 < due_in <= 1.5  # wakes for the handoff

    wait_until(
        lambda: (oncall_notices.run(ctx), w.messages(db_conn))[1], 10, "a notice at the handoff"
    )
    [message] = w.messages(db_conn)
    assert (message["kind"], message["channel_id"], message["dest_type"]) == (
        "oncall_notice",
        room,
        "slack",
    )
    assert message["payload"] == {
        "schedule_id": schedule_id,
        "schedule_name": "primary",
        "users": [{"id": bob, "name": "bob"}],
        "previous": [{"id": alice, "name": "alice"}],
    }
    assert message["dedup_key"].startswith(f"oncall:{schedule_id}:")
    assert notice_state(db_conn, schedule_id) == [bob]
    due_in = oncall_notices.run(ctx)
    assert len(w.messages(db_conn)) == 1  # no change, no notice
    assert due_in is not None and 3500 < due_in <= 3600  # the override's end (capped at 1 h)


def test_schedules_without_a_notice_channel_are_left_alone(db_conn, ctx):
    alice = w.user(db_conn)
    row = db_conn.execute(
        "INSERT INTO schedules (name, time_zone) VALUES ('quiet', 'UTC') RETURNING id::text AS id"
    ).fetchone()
    db_conn.execute(
        "INSERT INTO schedule_rules (schedule_id, target_type, user_id) VALUES (%s, 'user', %s)",
        (row["id"], alice),
    )
    assert oncall_notices.run(ctx) is None
    assert notice_state(db_conn, row["id"]) is None
