"""The generic API as GoAlert's senders use it: its documented curl examples, every token
location, form/query/JSON bodies, close and acknowledge, meta, dedup, and what text becomes."""

from __future__ import annotations

import base64
import json
from typing import Any

import psycopg
import pytest

from app.alerts import store
from tests.fixtures.ingest import alerts, error_of, new_key, row_counts

URL = "/api/v2/generic/incoming"


@pytest.fixture
def service(make_service: Any) -> dict[str, Any]:
    return make_service()


@pytest.fixture
def token(service: dict[str, Any]) -> str:
    return str(service["integration_key"]["token"])


def only_alert(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    rows = alerts(db_conn)
    assert len(rows) == 1, rows
    return rows[0]


# ---- GoAlert's documented examples (IntegrationKeys.md), replayed as curl sends them ----------


def test_goalert_doc_example_query_only_opens_an_alert(client, db_conn, service, token):
    # curl -XPOST "https://<host>/api/v2/generic/incoming?token=key-here&summary=test&details=test"
    response = client.post(f"{URL}?token={token}&summary=test&details=test")
    assert response.status_code == 204
    assert response.data == b""
    alert = only_alert(db_conn)
    assert (alert["summary"], alert["details"], alert["status"]) == ("test", "test", "triggered")
    assert alert["service_id"] == service["id"]
    assert alert["source"] == "generic"
    assert alert["dedup_key"] == store.auto_dedup_key("test", "test")


def test_goalert_doc_example_dedup_updates_one_alert(client, db_conn, token):
    # curl -XPOST ".../incoming?token=key-here&summary=test&dedup=disk-check"
    for summary in ("test", "test again"):
        assert (
            client.post(f"{URL}?token={token}&summary={summary}&dedup=disk-check").status_code
            == 204
        )
    alert = only_alert(db_conn)
    assert alert["dedup_key"] == "user:disk-check"
    assert alert["summary"] == "test"  # the first message names the alert
    assert alert["duplicate_count"] == 1


def test_goalert_doc_example_close_by_summary(client, db_conn, token):
    # curl -XPOST ".../incoming?token=key-here&summary=test&action=close"
    client.post(f"{URL}?token={token}&summary=test")
    assert client.post(f"{URL}?token={token}&summary=test&action=close").status_code == 204
    assert only_alert(db_conn)["status"] == "closed"


# ---- bodies: form, multipart, JSON, and none ---------------------------------------------------


def test_urlencoded_form_with_key_in_the_query(client, db_conn, token):
    # GoAlert's smoke test: POST /v1/api/alerts?key=<key> with a form body
    response = client.post(
        f"{URL}?key={token}",
        data={"summary": "hello", "details": "woot"},
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 204
    assert (only_alert(db_conn)["summary"], only_alert(db_conn)["details"]) == ("hello", "woot")


def test_multipart_form_as_curl_dash_F_sends_it(client, db_conn, token):
    boundary = "------------------------d74496d66958873e"
    body = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in (("token", token), ("summary", "disk full"), ("details", "on /var"))
        )
        + f"--{boundary}--\r\n"
    )
    response = client.post(
        URL, data=body.encode(), content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 204
    assert only_alert(db_conn)["summary"] == "disk full"


def test_json_body_and_accept_json_answer(client, db_conn, service, token):
    # GoAlert's smoke test: {"summary": "json"} twice, the second asking for JSON
    first = client.post(f"{URL}?token={token}", json={"summary": "json"})
    assert first.status_code == 204
    second = client.post(
        f"{URL}?token={token}", json={"summary": "json"}, headers={"Accept": "application/json"}
    )
    assert second.status_code == 200
    alert = only_alert(db_conn)
    assert second.get_json() == {"AlertID": alert["id"], "ServiceID": service["id"], "IsNew": False}


def test_accept_json_for_a_new_alert_says_it_is_new(client, db_conn, service, token):
    response = client.post(
        f"{URL}?token={token}&summary=fresh",
        headers={"Accept": "text/html, application/json;q=0.9"},
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "AlertID": only_alert(db_conn)["id"],
        "ServiceID": service["id"],
        "IsNew": True,
    }


def test_accept_anything_keeps_the_default_204(client, token):
    response = client.post(f"{URL}?token={token}&summary=x", headers={"Accept": "*/*"})
    assert response.status_code == 204


def test_no_content_type_and_no_body_reads_the_query(client, db_conn, token):
    # GoAlert's metadata smoke test posts with an empty Content-Type and a nil body
    response = client.post(f"{URL}?summary=gen_form&token={token}", content_type="")
    assert response.status_code == 204
    assert only_alert(db_conn)["summary"] == "gen_form"


def test_json_body_without_content_type_is_still_read(client, db_conn, token):
    response = client.post(f"{URL}?token={token}", data=b'{"summary": "forgot the header"}')
    assert response.status_code == 204
    assert only_alert(db_conn)["summary"] == "forgot the header"


def test_json_content_type_with_an_empty_body_reads_the_query(client, db_conn, token):
    response = client.post(
        f"{URL}?token={token}&summary=from-query", content_type="application/json"
    )
    assert response.status_code == 204
    assert only_alert(db_conn)["summary"] == "from-query"


def test_form_body_wins_over_query_and_json_over_both(client, db_conn, token):
    client.post(
        f"{URL}?token={token}&summary=query&details=query-details",
        data={"summary": "form"},
        content_type="application/x-www-form-urlencoded",
    )
    client.post(
        f"{URL}?token={token}&summary=query&details=q",
        json={"summary": "json", "details": None},
    )
    rows = alerts(db_conn)
    assert [(a["summary"], a["details"]) for a in rows] == [
        ("form", "query-details"),
        ("json", "q"),  # null means "not given", as in GoAlert
    ]


def test_json_field_names_match_case_insensitively_as_in_go(client, db_conn, token):
    response = client.post(
        f"{URL}?token={token}", json={"Summary": "capital", "DETAILS": "loud", "Dedup": "d1"}
    )
    assert response.status_code == 204
    alert = only_alert(db_conn)
    assert (alert["summary"], alert["details"], alert["dedup_key"]) == (
        "capital",
        "loud",
        "user:d1",
    )


# ---- where the token travels --------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "how",
    [
        "query token",
        "query integrationKey",
        "query integration_key",
        "query key",
        "form token",
        "form integration_key",
        "bearer",
        "bearer lower-case scheme",
        "bare authorization",
        "basic password",
        "basic user only",
    ],
)
def test_every_token_location_goalert_accepts(client, db_conn, token, how):
    query, form, headers = f"summary={how}", {}, {}
    kind, _, detail = how.partition(" ")
    if kind == "query":
        query += f"&{detail}={token}"
    elif kind == "form":
        form[detail] = token
    elif how == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    elif how == "bearer lower-case scheme":
        headers["Authorization"] = f"bearer {token}"
    elif how == "bare authorization":
        headers["Authorization"] = token
    elif how == "basic password":
        headers["Authorization"] = basic("goalert", token)
    else:
        headers["Authorization"] = basic(token, "")
    response = client.post(f"{URL}?{query}", data=form or None, headers=headers)
    assert response.status_code == 204, response.get_json()
    assert only_alert(db_conn)["summary"] == how


def test_a_query_token_wins_over_the_authorization_header(client, db_conn, token):
    response = client.post(
        f"{URL}?token={token}&summary=x", headers={"Authorization": "Bearer kli_wrong_token"}
    )
    assert response.status_code == 204


# ---- close, acknowledge ------------------------------------------------------------------


def test_close_by_dedup_needs_no_summary(client, db_conn, token):
    client.post(f"{URL}?token={token}&summary=disk&dedup=disk-1")
    response = client.post(f"{URL}?token={token}&action=close&dedup=disk-1")
    assert response.status_code == 204
    assert only_alert(db_conn)["status"] == "closed"


def test_close_by_summary_and_details_uses_the_automatic_key(client, db_conn, token):
    body = {"summary": "  Disk\nfull ", "details": "on /var\r\n"}
    client.post(f"{URL}?token={token}", json=body)
    client.post(f"{URL}?token={token}", json={**body, "summary": "Disk full", "action": "close"})
    assert only_alert(db_conn)["status"] == "closed"


def test_close_with_other_details_leaves_the_alert_open(client, db_conn, token):
    client.post(f"{URL}?token={token}", json={"summary": "s", "details": "a"})
    client.post(f"{URL}?token={token}", json={"summary": "s", "details": "b", "action": "close"})
    assert only_alert(db_conn)["status"] == "triggered"


@pytest.mark.parametrize("action", ["acknowledge", "ack", "ACK"])
def test_acknowledge_by_dedup(client, db_conn, token, action):
    client.post(f"{URL}?token={token}&summary=s&dedup=k")
    response = client.post(f"{URL}?token={token}&action={action}&dedup=k")
    assert response.status_code == 204
    assert only_alert(db_conn)["status"] == "acknowledged"


def test_closing_what_is_not_open_is_still_a_success(client, db_conn, service, token):
    response = client.post(
        f"{URL}?token={token}&action=close&dedup=never-raised",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.get_json() == {"AlertID": 0, "ServiceID": service["id"], "IsNew": False}
    assert alerts(db_conn) == []


def test_close_answers_the_closed_alert_id(client, db_conn, token):
    client.post(f"{URL}?token={token}&summary=s&dedup=k")
    response = client.post(
        f"{URL}?token={token}&action=close&dedup=k", headers={"Accept": "application/json"}
    )
    assert response.get_json()["AlertID"] == only_alert(db_conn)["id"]


def test_a_closed_alert_is_not_reopened_a_new_one_is_raised(client, db_conn, token):
    for action in ("", "close", ""):
        client.post(f"{URL}?token={token}&summary=s&dedup=k&action={action}")
    assert [a["status"] for a in alerts(db_conn)] == ["closed", "triggered"]


def test_ack_then_trigger_counts_a_duplicate_and_stays_acknowledged(client, db_conn, token):
    for action in ("", "ack", ""):
        client.post(f"{URL}?token={token}&summary=s&dedup=k&action={action}")
    alert = only_alert(db_conn)
    assert (alert["status"], alert["duplicate_count"]) == ("acknowledged", 1)


def test_close_without_summary_or_dedup_is_a_400(client, db_conn, token):
    response = client.post(f"{URL}?token={token}&action=close")
    assert response.status_code == 400
    assert error_of(response)["details"]["field"] == "summary"


def test_an_unknown_action_is_a_400_not_a_new_alert(client, db_conn, token):
    response = client.post(f"{URL}?token={token}&summary=s&action=resolve")
    assert response.status_code == 400
    body = error_of(response)
    assert body["details"]["field"] == "action"
    assert "resolve" in body["error"]
    assert alerts(db_conn) == []


# ---- meta ---------------------------------------------------------------------------------


def created_meta(db_conn: psycopg.Connection[Any], alert_id: int) -> dict[str, Any]:
    row = db_conn.execute(
        "SELECT meta FROM alert_logs WHERE alert_id = %s AND event = 'created'", (alert_id,)
    ).fetchone()
    assert row is not None
    meta: dict[str, Any] = row["meta"]
    return meta


def test_meta_as_repeated_query_pairs(client, db_conn, token):
    # GoAlert's smoke test: ?summary=gen_form&meta=form1key=form1value&meta=form2key=form2value
    response = client.post(
        f"{URL}?summary=gen_form&meta=form1key=form1value&meta=form2key=form2value"
        f"&meta=no-equals-sign-is-skipped&meta=url=https://x/?a=b&token={token}"
    )
    assert response.status_code == 204
    assert created_meta(db_conn, only_alert(db_conn)["id"]) == {
        "meta": {"form1key": "form1value", "form2key": "form2value", "url": "https://x/?a=b"}
    }


def test_meta_as_a_json_object_replaces_form_meta(client, db_conn, token):
    response = client.post(
        f"{URL}?token={token}&meta=q=1", json={"summary": "gen_json", "meta": {"jsonkey": "v"}}
    )
    assert response.status_code == 204
    assert created_meta(db_conn, only_alert(db_conn)["id"]) == {"meta": {"jsonkey": "v"}}


def test_meta_is_kept_for_new_alerts_only(client, db_conn, token):
    client.post(f"{URL}?token={token}&summary=s&meta=a=1")
    client.post(f"{URL}?token={token}&summary=s&meta=a=2")
    metas = db_conn.execute("SELECT event, meta FROM alert_logs ORDER BY id").fetchall()
    assert metas == [
        {"event": "created", "meta": {"meta": {"a": "1"}}},
        {"event": "duplicate_suppressed", "meta": {"count": 1}},
    ]


@pytest.mark.parametrize(
    ("meta", "field"),
    [
        ({"": "empty key"}, "meta"),
        ({"k" * 256: "long key"}, "meta"),
        ({"ключ": "non-ascii key"}, "meta"),
        ({"big": "x" * (33 * 1024)}, "meta"),
        ({"n": 1}, "meta.n"),
        (["a=b"], "meta"),
    ],
)
def test_invalid_meta_is_a_400_naming_meta(client, db_conn, token, meta, field):
    response = client.post(f"{URL}?token={token}", json={"summary": "s", "meta": meta})
    assert response.status_code == 400
    assert error_of(response)["details"]["field"] == field
    assert alerts(db_conn) == []


# ---- text: limits, control characters, unicode, SQL-ish -----------------------------------


def test_long_summary_is_folded_and_clipped_not_refused(client, db_conn, token):
    summary = "line one\nline two " + "x" * 3000
    response = client.post(f"{URL}?token={token}", json={"summary": summary})
    assert response.status_code == 204
    stored = only_alert(db_conn)["summary"]
    assert len(stored) == store.MAX_SUMMARY
    assert stored.startswith("line one line two xxx")


def test_long_details_are_clipped_to_6_kib(client, db_conn, token):
    response = client.post(f"{URL}?token={token}", json={"summary": "s", "details": "é" * 10_000})
    assert response.status_code == 204
    details = only_alert(db_conn)["details"]
    assert len(details.encode()) <= store.MAX_DETAILS
    assert set(details) == {"é"}


def test_control_characters_are_stripped(client, db_conn, token):
    response = client.post(
        f"{URL}?token={token}",
        json={
            "summary": "\x1b[31mRED\x1b[0m\x00 alert\u202e\u2028!",
            "details": "a\x00b\tc\r\nd\x7f\u0085e\n\n\n\nf\ud800",
            "dedup": "k\x00ey",
        },
    )
    assert response.status_code == 204
    alert = only_alert(db_conn)
    assert alert["summary"] == "[31mRED[0m alert !"
    assert alert["details"] == "ab\tc\nd e\n\nf"
    assert alert["dedup_key"] == "user:key"


def test_unicode_is_kept_as_sent(client, db_conn, token):
    summary = "数据库 CPU 🔥 — Ünïcödé ☃ 👩‍💻"
    client.post(f"{URL}?token={token}", json={"summary": summary, "details": "ok ✓"})
    assert only_alert(db_conn)["summary"] == summary


@pytest.mark.parametrize(
    "text",
    [
        "'; DROP TABLE alerts; --",
        "Robert'); DELETE FROM alert_logs WHERE ('1'='1",
        "%(summary)s %s {0} $1 \\x00",
        '" OR 1=1 --',
    ],
)
def test_sql_ish_text_is_stored_verbatim(client, db_conn, token, text):
    response = client.post(f"{URL}?token={token}", json={"summary": text, "dedup": text})
    assert response.status_code == 204
    alert = only_alert(db_conn)
    assert alert["summary"] == text
    assert alert["dedup_key"] == "user:" + text


def test_form_values_in_latin1_are_not_a_500(client, db_conn, token):
    response = client.post(
        f"{URL}?token={token}",
        data=b"summary=caf%E9",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 204
    assert only_alert(db_conn)["summary"] == "caf%E9"  # left percent-encoded, not lost


@pytest.mark.parametrize("summary", ["", "   ", "\n\t\r", "\x00\x1b"])
def test_missing_or_blank_summary_is_a_400_and_writes_nothing(client, db_conn, token, summary):
    before = row_counts(db_conn)
    response = client.post(f"{URL}?token={token}", json={"summary": summary, "details": "d"})
    assert response.status_code == 400
    body = error_of(response)
    assert body["details"]["field"] == "summary"
    assert "summary" in body["error"]
    assert row_counts(db_conn) == before


# ---- the engine is woken --------------------------------------------------------------------


def test_each_change_notifies_klaxon_events_on_commit(client, database_url, token):
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute("LISTEN klaxon_events")
        client.post(f"{URL}?token={token}&summary=s&dedup=k")
        client.post(f"{URL}?token={token}&summary=s&dedup=k")
        client.post(f"{URL}?token={token}&action=close&dedup=k")
        notes = list(listener.notifies(timeout=5, stop_after=3))
    events = [json.loads(n.payload)["event"] for n in notes]
    assert events == ["created", "duplicate", "closed"]


def test_integration_key_id_is_logged_as_the_actor(client, db_conn, service, token):
    client.post(f"{URL}?token={token}&summary=s")
    row = db_conn.execute("SELECT actor_type, actor_id FROM alert_logs").fetchone()
    assert row == {"actor_type": "integration_key", "actor_id": service["integration_key"]["id"]}


def test_a_key_of_another_service_writes_to_that_service(client, db_conn, make_service):
    first, second = make_service(), make_service()
    other = new_key(db_conn, second["id"], "generic")
    client.post(f"{URL}?token={other}&summary=s")
    assert alerts(db_conn, first["id"]) == []
    assert len(alerts(db_conn, second["id"])) == 1


# ---- the one-statement hot path writes what the general path writes ------------------------


def test_hot_path_writes_exactly_what_verify_and_raise_alert_write(client, db_conn, make_service):
    from app.directory.integration_keys import verify_integration_key

    hot, reference = make_service(), make_service()
    body = {"summary": "Disk\nfull", "details": "on /var", "meta": {"team": "db"}}
    for _ in range(2):
        assert (
            client.post(f"{URL}?token={hot['integration_key']['token']}", json=body).status_code
            == 204
        )
        key = verify_integration_key(db_conn, reference["integration_key"]["token"])
        assert key is not None
        store.raise_alert(
            db_conn,
            key.service_id,
            "Disk full",
            "on /var",
            source=key.type,
            actor=store.Actor("integration_key", key.id),
            meta={"team": "db"},
        )

    def written(service: dict[str, Any]) -> tuple[Any, ...]:
        alert = alerts(db_conn, service["id"])
        logs = db_conn.execute(
            "SELECT l.event, l.actor_type, l.actor_id, l.message, l.meta FROM alert_logs l "
            "JOIN alerts a ON a.id = l.alert_id WHERE a.service_id = %s ORDER BY l.id",
            (service["id"],),
        ).fetchall()
        key = db_conn.execute(
            "SELECT last_used_at IS NOT NULL AS used FROM integration_keys WHERE service_id = %s",
            (service["id"],),
        ).fetchone()
        for row in [*alert, *logs]:
            row.pop("id", None)
            row.pop("service_id", None)
            if row.get("actor_id") == service["integration_key"]["id"]:
                row["actor_id"] = "<the key>"
        return alert, logs, key

    assert written(hot) == written(reference)


def test_hot_path_rejects_a_key_of_another_type_without_writing(client, db_conn, service):
    grafana = new_key(db_conn, service["id"], "grafana")
    before = row_counts(db_conn)
    response = client.post(f"{URL}?token={grafana}&summary=s")
    assert response.status_code == 401
    assert row_counts(db_conn) == before


# ---- GoAlert's v1 paths, still served by GoAlert through rewrites --------------------------


def test_goalert_v1_generic_path_as_its_smoke_test_calls_it(client, db_conn, token):
    # POST /v1/api/alerts?key=<key>, form body summary=hello&details=woot
    response = client.post(
        f"/v1/api/alerts?key={token}", data={"summary": "hello", "details": "woot"}
    )
    assert response.status_code == 204
    assert only_alert(db_conn)["summary"] == "hello"


def test_goalert_v1_grafana_path_as_its_smoke_test_calls_it(client, db_conn, service):
    from tests.fixtures.ingest import raw

    token = new_key(db_conn, service["id"], "grafana")
    response = client.post(
        f"/v1/webhooks/grafana?integration_key={token}",
        data=raw("grafana_legacy_alerting.json"),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert only_alert(db_conn)["summary"] == "Panel Title alert"


def test_v1_paths_answer_errors_in_the_ingest_envelope(client, db_conn):
    response = client.post("/v1/api/alerts?summary=x")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_of(response)["code"] == "unauthorized"
    assert client.post("/v1/api/heartbeat/not-a-monitor").status_code == 404
