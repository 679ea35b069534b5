"""SMS reply codes: small, stable per (number, alert), reused once their alert is closed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg.rows import dict_row

from app.alerts import store
from app.alerts.store import Actor
from app.messages import reply_codes
from tests.support.inbound import make_alert, make_contact_method, make_user


@pytest.fixture
def sms_method(db_conn):
    return make_contact_method(db_conn, make_user(db_conn)["id"], "sms")


def test_codes_start_at_one_and_are_stable_per_alert(db_conn, make_service, sms_method):
    service_id = make_service()["id"]
    first, second = make_alert(db_conn, service_id), make_alert(db_conn, service_id)
    assert reply_codes.allocate(db_conn, sms_method, first) == 1
    assert reply_codes.allocate(db_conn, sms_method, second) == 2
    assert reply_codes.allocate(db_conn, sms_method, first) == 1
    assert reply_codes.lookup(db_conn, sms_method, 1) == first
    assert reply_codes.lookup(db_conn, sms_method, 2) == second
    assert reply_codes.lookup(db_conn, sms_method, 3) is None
    assert reply_codes.lookup(db_conn, sms_method, 0) is None


def test_codes_are_per_contact_method(db_conn, make_service, sms_method):
    other = make_contact_method(db_conn, make_user(db_conn, "Bob")["id"], "sms")
    service_id = make_service()["id"]
    a, b = make_alert(db_conn, service_id), make_alert(db_conn, service_id)
    assert reply_codes.allocate(db_conn, sms_method, a) == 1
    assert reply_codes.allocate(db_conn, other, b) == 1
    assert reply_codes.lookup(db_conn, other, 1) == b


def test_a_closed_alerts_code_is_reused_and_only_then_forgotten(db_conn, make_service, sms_method):
    service_id = make_service()["id"]
    a, b = make_alert(db_conn, service_id), make_alert(db_conn, service_id)
    assert reply_codes.allocate(db_conn, sms_method, a) == 1
    assert reply_codes.allocate(db_conn, sms_method, b) == 2
    store.set_status(db_conn, a, "closed", Actor("system"))
    # still answerable ("already closed") until the code is needed again
    assert reply_codes.lookup(db_conn, sms_method, 1) == a
    c = make_alert(db_conn, service_id)
    assert reply_codes.allocate(db_conn, sms_method, c) == 1
    assert reply_codes.lookup(db_conn, sms_method, 1) == c
    # an acknowledged alert still holds its code
    store.set_status(db_conn, b, "acknowledged", Actor("system"))
    assert reply_codes.allocate(db_conn, sms_method, make_alert(db_conn, service_id)) == 3


def test_exhausted_codes_raise_a_clear_error(db_conn, make_service, sms_method):
    service_id = make_service()["id"]
    alert = make_alert(db_conn, service_id)
    # 999 distinct open alerts hold every code
    ids = [make_alert(db_conn, service_id) for _ in range(999)]
    db_conn.execute(
        "INSERT INTO sms_reply_codes (contact_method_id, code, alert_id) "
        "SELECT %s, n, id FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(id, n)",
        (sms_method, ids),
    )
    with pytest.raises(reply_codes.CodesExhausted, match="all 999 SMS reply codes"):
        reply_codes.allocate(db_conn, sms_method, alert)


def test_concurrent_allocations_get_distinct_codes(database_url, db_conn, make_service, sms_method):
    service_id = make_service()["id"]
    alerts = [make_alert(db_conn, service_id) for _ in range(20)]

    def allocate(alert_id: int) -> int:
        with psycopg.connect(database_url, row_factory=dict_row) as conn, conn.transaction():
            return reply_codes.allocate(conn, sms_method, alert_id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(allocate, alerts))

    assert sorted(codes) == list(range(1, 21))
    for alert_id, code in zip(alerts, codes, strict=True):
        assert reply_codes.lookup(db_conn, sms_method, code) == alert_id
