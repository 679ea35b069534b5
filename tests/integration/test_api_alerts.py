"""/api/v1/alerts: filters, pagination, the log, and forward-only actions logged per API key."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from app.alerts import store
from tests.support.api import Api


@pytest.fixture
def writer_key(make_api_key: Callable[[str], str]) -> str:
    return make_api_key("write")


@pytest.fixture
def api(client: Any, writer_key: str) -> Api:
    return Api(client, writer_key)


@pytest.fixture
def service(make_service: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return make_service()


def raise_alert(
    conn: psycopg.Connection[Any], service: dict[str, Any], summary: str, **kw: Any
) -> str:
    return str(store.raise_alert(conn, service["id"], summary, **kw).alert_id)


def key_id(token: str) -> str:
    return str(uuid.UUID(hex=token.split("_")[1]))


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [a["id"] for a in response.get_json()["items"]]


def test_list_is_newest_first_with_the_stable_fields(
    api: Api, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    first = raise_alert(db_conn, service, "disk full", details="on /var", dedup="disk")
    second = raise_alert(db_conn, service, "cpu hot")
    body = api.get("/alerts").get_json()
    assert [a["id"] for a in body["items"]] == [second, first] and body["next_cursor"] is None
    alert = body["items"][1]
    assert alert["service_id"] == service["id"] and alert["status"] == "triggered"
    assert (alert["summary"], alert["details"], alert["dedup_key"]) == (
        "disk full",
        "on /var",
        "user:disk",
    )
    assert alert["created_at"].endswith("Z") and alert["closed_at"] is None


def test_filters_by_service_status_and_text(
    api: Api,
    db_conn: psycopg.Connection[Any],
    service: dict[str, Any],
    make_service: Callable[..., dict[str, Any]],
) -> None:
    other = make_service()
    disk = raise_alert(db_conn, service, "Disk full on db-1")
    cpu = raise_alert(db_conn, service, "CPU hot", details="load 50% on disk-less node")
    elsewhere = raise_alert(db_conn, other, "disk full elsewhere")
    store.set_status(db_conn, int(cpu), "acknowledged", store.Actor("system"))
    assert set(ids(api.get("/alerts", query_string={"service_id": service["id"]}))) == {disk, cpu}
    assert ids(api.get("/alerts", query_string={"status": "acknowledged"})) == [cpu]
    assert set(ids(api.get("/alerts", query_string={"q": "DISK"}))) == {disk, cpu, elsewhere}
    assert ids(api.get("/alerts", query_string={"q": "50%"})) == [cpu]
    assert ids(api.get("/alerts", query_string={"q": "_"})) == []  # no LIKE wildcards
    both = {"service_id": other["id"], "q": "disk"}
    assert ids(api.get("/alerts", query_string=both)) == [elsewhere]


def test_filters_by_creation_time(
    api: Api, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    old = raise_alert(db_conn, service, "old")
    db_conn.execute(
        "UPDATE alerts SET created_at = now() - interval '2 days' WHERE id = %s", (int(old),)
    )
    new = raise_alert(db_conn, service, "new")
    cut = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert ids(api.get("/alerts", query_string={"since": cut})) == [new]
    assert ids(api.get("/alerts", query_string={"until": cut})) == [old]


def test_pagination_walks_every_alert_exactly_once(
    api: Api, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    raised = [raise_alert(db_conn, service, f"alert {n}") for n in range(11)]
    seen = [a["id"] for a in api.walk("/alerts", limit=4)]
    assert seen == list(reversed(raised))
    filtered = [a["id"] for a in api.walk("/alerts", limit=3, q="alert 1")]
    assert filtered == [raised[10], raised[1]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"status": "open"}, "status"),
        ({"service_id": "payments"}, "service_id"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2030-01-01T00:00:00"}, "until"),
        ({"q": "x" * 201}, "q"),
        ({"q": "nul\x00"}, "q"),
        ({"sort": "id"}, "sort"),
    ],
)
def test_bad_query_parameters_are_422_naming_them(
    api: Api, params: dict[str, str], field: str
) -> None:
    response = api.get("/alerts", query_string=params)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["nope", b64("[]"), b64('["x"]'), b64("[-1]"), b64(f"[{2**63}]"), b64("{}"), b64("[1.5]")],
)
def test_a_cursor_the_api_did_not_issue_is_400(api: Api, cursor: str) -> None:
    response = api.get("/alerts", query_string={"cursor": cursor})
    assert (response.status_code, response.get_json()["code"]) == (400, "invalid_cursor")


def test_get_returns_the_alert_with_its_log(
    api: Api, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    alert_id = raise_alert(db_conn, service, "disk full", dedup="d")
    raise_alert(db_conn, service, "disk full", dedup="d")
    alert = api.get(f"/alerts/{alert_id}").get_json()
    assert alert["id"] == alert_id and alert["duplicate_count"] == 1
    assert [e["event"] for e in alert["log"]] == ["created", "duplicate_suppressed"]
    assert all(isinstance(e["id"], str) and e["created_at"].endswith("Z") for e in alert["log"])
    assert alert["log_next_cursor"] is None


def add_log_entries(conn: psycopg.Connection[Any], alert_id: str, count: int) -> None:
    conn.execute(
        "INSERT INTO alert_logs (alert_id, event, actor_type, message) "
        "SELECT %s, 'escalated', 'system', 'step ' || n FROM generate_series(1, %s) n",
        (alert_id, count),
    )


def test_a_long_log_comes_in_pages(
    api: Api, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    alert_id = raise_alert(db_conn, service, "flapping")
    add_log_entries(db_conn, alert_id, store.LOG_PAGE + 20)
    alert = api.get(f"/alerts/{alert_id}").get_json()
    assert len(alert["log"]) == store.LOG_PAGE and alert["log_next_cursor"]
    rest = api.get(f"/alerts/{alert_id}/log", query_string={"cursor": alert["log_next_cursor"]})
    assert rest.status_code == 200
    assert [e["message"] for e in rest.get_json()["items"]] == [
        f"step {n}" for n in range(store.LOG_PAGE, store.LOG_PAGE + 21)
    ]
    assert rest.get_json()["next_cursor"] is None
    walked = api.walk(f"/alerts/{alert_id}/log", limit=7)
    assert [e["id"] for e in walked[: store.LOG_PAGE]] == [e["id"] for e in alert["log"]]
    assert len(walked) == store.LOG_PAGE + 21 and len({e["id"] for e in walked}) == len(walked)


def test_the_log_of_an_unknown_alert_is_404_and_a_forged_cursor_400(
    api: Api, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    assert api.get("/alerts/999999/log").status_code == 404
    alert_id = raise_alert(db_conn, service, "x")
    forged = api.get(f"/alerts/{alert_id}/log", query_string={"cursor": "bm9wZQ"})
    assert forged.status_code == 400
    assert api.get(f"/alerts/{alert_id}/log", query_string={"limit": 500}).status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/alerts/999999",
        "/alerts/0",
        "/alerts/-1",
        "/alerts/abc",
        f"/alerts/{2**63}",
        "/alerts/99999999999999999999999",
    ],
)
def test_unknown_or_impossible_alert_ids_are_404(api: Api, path: str) -> None:
    assert api.get(path).status_code == 404
    assert api.post(path + "/acknowledge").status_code == 404


def test_acknowledge_then_close_log_the_api_key_as_actor(
    api: Api, writer_key: str, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    alert_id = raise_alert(db_conn, service, "disk full")
    acked = api.post(f"/alerts/{alert_id}/acknowledge")
    assert acked.status_code == 200 and acked.get_json()["status"] == "acknowledged"
    closed = api.post(f"/alerts/{alert_id}/close").get_json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    log = closed["log"]
    assert [e["event"] for e in log] == ["created", "acknowledged", "closed"]
    for entry in log[1:]:
        assert (entry["actor_type"], entry["actor_id"]) == ("api_key", key_id(writer_key))


def test_escalate_records_the_request_and_returns_the_alert(
    api: Api, writer_key: str, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    alert_id = raise_alert(db_conn, service, "disk full")
    response = api.post(f"/alerts/{alert_id}/escalate")
    assert response.status_code == 200
    alert = response.get_json()
    assert alert["status"] == "triggered"
    assert alert["log"][-1]["event"] == "escalation_requested"
    assert alert["log"][-1]["actor_id"] == key_id(writer_key)


def test_repeating_an_action_is_a_no_op_that_logs_nothing(
    api: Api, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    alert_id = raise_alert(db_conn, service, "disk full")
    api.post(f"/alerts/{alert_id}/acknowledge")
    again = api.post(f"/alerts/{alert_id}/acknowledge")
    assert again.status_code == 200
    api.post(f"/alerts/{alert_id}/close")
    closed_again = api.post(f"/alerts/{alert_id}/close")
    assert closed_again.status_code == 200
    events = [e["event"] for e in closed_again.get_json()["log"]]
    assert events == ["created", "acknowledged", "closed"]


@pytest.mark.parametrize("action", ["acknowledge", "escalate"])
def test_a_closed_alert_cannot_be_acknowledged_or_escalated(
    api: Api, db_conn: psycopg.Connection[Any], service: dict[str, Any], action: str
) -> None:
    alert_id = raise_alert(db_conn, service, "disk full")
    api.post(f"/alerts/{alert_id}/close")
    response = api.post(f"/alerts/{alert_id}/{action}")
    assert response.status_code == 409
    assert response.get_json()["code"] == "invalid_transition"
    alert = api.get(f"/alerts/{alert_id}").get_json()
    assert alert["status"] == "closed"
    assert [e["event"] for e in alert["log"]] == ["created", "closed"]


def test_closing_skips_acknowledged(
    api: Api, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    alert_id = raise_alert(db_conn, service, "disk full")
    assert api.post(f"/alerts/{alert_id}/close").get_json()["status"] == "closed"


def test_reading_needs_only_read_scope_but_acting_needs_write(
    client: Any,
    make_api_key: Callable[[str], str],
    db_conn: psycopg.Connection[Any],
    service: dict[str, Any],
) -> None:
    alert_id = raise_alert(db_conn, service, "disk full")
    reader = Api(client, make_api_key("read"))
    assert reader.get(f"/alerts/{alert_id}").status_code == 200
    assert reader.post(f"/alerts/{alert_id}/acknowledge").status_code == 403
    assert api_status(db_conn, alert_id) == "triggered"


def api_status(conn: psycopg.Connection[Any], alert_id: str) -> str:
    row = conn.execute("SELECT status FROM alerts WHERE id = %s", (int(alert_id),)).fetchone()
    assert row is not None
    return str(row["status"])
