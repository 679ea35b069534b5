"""The audit log's guarantees beyond "one row per route" (tests/integration/test_audit_routes.py):
a rolled-back change leaves nothing, no secret ever reaches a diff, only configuration changes
are recorded, and GET /api/v1/audit filters and pages it for admins only."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from app.audit import context
from tests.support.api import Api, created
from tests.support.audit_world import build, unique
from tests.support.signin import PASSWORD, make_user, sign_in, signed_in

NEW_PASSWORD = "another long pass phrase"


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("admin"))


def count(conn: psycopg.Connection[Any]) -> int:
    return int(conn.execute("SELECT count(*) AS n FROM audit_events").fetchone()["n"])


# ---- rolled back: nothing ----------------------------------------------------------------------


def test_a_request_that_fails_after_writing_leaves_no_audit_row(
    api: Api, db_conn: psycopg.Connection[Any]
) -> None:
    before = count(db_conn)
    # The service row is inserted, then the unknown policy is refused: 422, all rolled back.
    response = api.post(
        "/services", json={"name": unique("svc"), "escalation_policy_id": str(uuid.uuid4())}
    )
    assert response.status_code == 422
    taken = created(api.post("/services", json={"name": unique("svc")}))["name"]
    assert api.post("/services", json={"name": taken.upper()}).status_code == 409
    assert count(db_conn) == before + 1  # the one service that was made
    assert db_conn.execute("SELECT count(*) AS n FROM audit_staged").fetchone()["n"] == 0


def test_a_transaction_that_raises_leaves_no_audit_row(database_url: str) -> None:
    from psycopg.rows import dict_row

    from app.directory import services

    with psycopg.connect(
        database_url, row_factory=dict_row, application_name="nightly-job"
    ) as conn:
        with pytest.raises(RuntimeError), conn.transaction():
            context.declare(conn, context.system("create-service"))
            services.create_service(conn, "doomed", "")
            raise RuntimeError("changed my mind")
        with conn.transaction():
            kept = services.create_service(conn, "kept", "")
            with pytest.raises(RuntimeError), conn.transaction():  # a savepoint, rolled back
                services.update_service(conn, kept["id"], {"description": "undone"})
                raise RuntimeError("not this part")
        rows = conn.execute("SELECT * FROM audit_events").fetchall()
    assert len(rows) == 1
    (event,) = rows
    # Nothing declared: the actor is the system, named by the connection's application_name.
    assert (event["actor_type"], event["actor_id"]) == ("system", "nightly-job")
    assert event["action"] == "insert_services" and event["target_id"] == kept["id"]
    assert [change["op"] for change in event["changes"]] == ["insert"]


# ---- secrets: never in a diff --------------------------------------------------------------------


def stored_secrets(conn: psycopg.Connection[Any]) -> list[str]:
    """Every secret column's stored value in the database, as the audit JSON would spell it
    (bytea as \\x… hex, text as is)."""
    columns = conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_name ~ '(hash|secret|token|code)' "
        "AND table_name NOT IN ('audit_events', 'audit_staged')"
    ).fetchall()
    found: list[str] = []
    for column in columns:
        values = conn.execute(
            f'SELECT "{column["column_name"]}" AS v FROM "{column["table_name"]}" '
            f'WHERE "{column["column_name"]}" IS NOT NULL'
        ).fetchall()
        for row in values:
            value = row["v"]
            found.append(value.hex() if isinstance(value, bytes) else str(value))
    return found


def test_no_secret_or_its_hash_appears_in_any_audit_row(
    web_app: Any, api: Api, db_conn: psycopg.Connection[Any]
) -> None:
    world = build(api, db_conn)
    secrets = list(world.secrets)
    user = make_user(db_conn)
    session_client = web_app.test_client()
    csrf = signed_in(session_client, user)
    secrets.append(session_client.get_cookie("klaxon_session").value)
    changed = session_client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 204, changed.get_json()
    secrets += [NEW_PASSWORD, csrf]
    monitor = f"/services/{world['service']}/heartbeat-monitors/{world['heartbeat_monitor']}"
    rotated = api.post(monitor + "/rotate-secret")
    assert rotated.status_code == 200, rotated.get_json()
    secrets.append(rotated.get_json()["checkin_secret"])
    assert api.delete(f"/api-keys/{world['api_key']}").status_code == 204
    assert api.delete(f"/users/{world['spare_user']}").status_code == 204
    assert api.delete(f"/services/{world['service']}").status_code == 204  # cascades its keys
    assert api.delete(f"/schedules/{world['schedule']}").status_code == 204  # and feeds

    hashes = stored_secrets(db_conn)
    digests = [hashlib.sha256(s.encode()).hexdigest() for s in secrets]
    audit = [json.dumps(row, default=str) for row in db_conn.execute("SELECT * FROM audit_events")]
    assert len(audit) > 20
    text = "\n".join(audit)
    for secret in [*secrets, *digests, *hashes]:
        # A short secret (a 6-digit code) is looked for as a JSON string: as bare digits it
        # could match a timestamp's microseconds by chance.
        needle = secret if len(secret) >= 12 else json.dumps(secret)
        assert secret and needle not in text, f"a secret reached the audit log: {secret[:6]}…"
    assert not re.search(r'"[a-z_]*(hash|secret|token|code)[a-z_]*": ', text)
    assert "password_hash" in text  # named as redacted when it changed, never with its value


def test_every_secret_column_of_an_audited_table_is_kept_out(
    db_conn: psycopg.Connection[Any],
) -> None:
    """The triggers drop columns by name: this lists what they drop, so a new secret column
    whose name does not say so (hash, secret, token, code) shows up here for a decision."""
    audited = {
        row["table"]
        for row in db_conn.execute(
            "SELECT DISTINCT event_object_table AS table FROM information_schema.triggers "
            "WHERE trigger_name LIKE '%%\\_audit'"
        )
    }
    dropped = {
        (row["table_name"], row["column_name"])
        for row in db_conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name ~ '(hash|secret|token|code)'"
        )
        if row["table_name"] in audited
    }
    assert dropped == {
        ("users", "password_hash"),
        ("api_keys", "secret_hash"),
        ("integration_keys", "secret_hash"),
        ("heartbeat_monitors", "checkin_secret_hash"),
        ("contact_methods", "signing_secret"),
        ("notification_channels", "signing_secret"),
        ("calendar_subscriptions", "secret_hash"),
        ("sessions", "token_hash"),
        ("signin_links", "token_hash"),
    }


# Columns of the partially audited tables whose updates are use, not configuration.
NOT_CONFIGURATION = {
    "api_keys": {"id", "created_at", "last_used_at"},
    "integration_keys": {"id", "created_at", "last_used_at"},
    "heartbeat_monitors": {"id", "created_at", "state", "last_checkin_at", "alert_id"},
    "schedules": {"id", "created_at", "updated_at", "notice_state"},
    "sessions": {
        "id", "user_id", "token_hash", "created_at", "last_seen_at", "idle_expires_at",
        "expires_at", "user_agent", "address",
    },
}  # fmt: skip


@pytest.mark.parametrize("table", sorted(NOT_CONFIGURATION))
def test_a_new_column_on_a_partially_audited_table_needs_a_decision(
    db_conn: psycopg.Connection[Any], table: str
) -> None:
    definition = db_conn.execute(
        "SELECT pg_get_triggerdef(oid) AS d FROM pg_trigger WHERE tgname = %s", (f"{table}_audit",)
    ).fetchone()["d"]
    listed = set(re.search(r"UPDATE OF (.+?) ON", definition).group(1).split(", "))
    columns = {
        row["column_name"]
        for row in db_conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
        )
    }
    assert columns == listed | NOT_CONFIGURATION[table], (
        f"{table}: audit its new columns' updates (migration 0009's UPDATES_OF) or list them "
        "in NOT_CONFIGURATION"
    )


# ---- what is and is not configuration --------------------------------------------------------


def test_use_is_not_configuration(
    web_app: Any, api: Api, db_conn: psycopg.Connection[Any], make_service: Callable[..., Any]
) -> None:
    """Signing in and out, a key's last use, ingest and check-ins write no audit row (their
    updates touch no audited column, so no trigger even fires)."""
    service = make_service()
    user = make_user(db_conn)
    path = f"/services/{service['id']}/heartbeat-monitors"
    monitor = created(api.post(path, json={"name": "cron", "timeout_seconds": 60}))
    before = count(db_conn)
    browser = web_app.test_client()
    csrf = sign_in(browser, user["email"]).get_json()["csrf_token"]
    assert browser.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    ended = db_conn.execute("SELECT revoked_at FROM sessions WHERE user_id = %s", (user["id"],))
    assert ended.fetchone()["revoked_at"] is not None
    db_conn.execute("UPDATE api_keys SET last_used_at = now() - interval '1 day'")
    assert api.get("/services").status_code == 200  # touches the key's last_used_at
    raised = api.client.post(service["integration_key"]["url"], data={"summary": "disk full"})
    assert raised.status_code < 300, raised.get_data(as_text=True)
    checked_in = api.client.post(monitor["checkin_url"])
    assert checked_in.status_code < 300, checked_in.get_data(as_text=True)
    state = db_conn.execute("SELECT state FROM heartbeat_monitors WHERE id = %s", (monitor["id"],))
    assert state.fetchone()["state"] == "healthy"
    assert count(db_conn) == before


def test_a_command_line_change_is_recorded_as_system_naming_the_command(
    db_conn: psycopg.Connection[Any],
) -> None:
    from app.directory import users

    with db_conn.transaction():
        context.declare(db_conn, context.system("create-user"))
        row = users.create_user(db_conn, "Ops", f"{unique('ops')}@example.com", "admin")
    event = db_conn.execute("SELECT * FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
    assert (event["actor_type"], event["actor_id"]) == ("system", "klaxon create-user")
    assert (event["action"], event["target_type"], event["target_id"]) == (
        "create_user",
        "users",
        row["id"],
    )


# ---- GET /api/v1/audit --------------------------------------------------------------------------


def test_audit_log_needs_admin_scope(
    client: Any, make_api_key: Callable[[str], str], db_conn: psycopg.Connection[Any]
) -> None:
    for scope in ("read", "write"):
        response = Api(client, make_api_key(scope)).get("/audit")
        assert response.status_code == 403
        assert response.get_json()["code"] == "forbidden"
    user = make_user(db_conn)
    browser = client.application.test_client()
    signed_in(browser, user)
    assert browser.get("/api/v1/audit").status_code == 403


def test_audit_log_filters_by_actor_target_and_time(
    client: Any, api: Api, make_api_key: Callable[[str], str]
) -> None:
    other = Api(client, make_api_key("admin"))
    mine = created(api.post("/services", json={"name": unique("a")}))
    theirs = created(other.post("/services", json={"name": unique("b")}))
    assert api.patch(f"/services/{mine['id']}", json={"description": "x"}).status_code == 200
    everything = api.walk("/audit", 50)
    assert [e["action"] for e in everything[:3]] == [
        "update_service",
        "create_service",
        "create_service",
    ]
    my_key = everything[0]["actor_id"]
    by_me = api.walk("/audit", 50, actor_type="api_key", actor_id=my_key)
    assert {e["target_id"] for e in by_me} == {mine["id"]} and len(by_me) == 2
    about_theirs = api.walk("/audit", 50, target_type="services", target_id=theirs["id"])
    assert [e["action"] for e in about_theirs] == ["create_service"]
    assert about_theirs[0]["actor_id"] != my_key
    assert about_theirs[0]["changes"][0]["after"]["name"] == theirs["name"]
    assert api.walk("/audit", 50, target_type="users") == []
    latest = datetime.fromisoformat(everything[0]["at"])
    since = (latest - timedelta(microseconds=1)).isoformat()
    assert [e["id"] for e in api.walk("/audit", 50, since=since)] == [everything[0]["id"]]
    until = latest.isoformat()
    assert everything[0]["id"] not in [e["id"] for e in api.walk("/audit", 50, until=until)]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert api.walk("/audit", 50, since=future) == []


def test_audit_log_pages_newest_first_with_a_cursor(
    api: Api, db_conn: psycopg.Connection[Any]
) -> None:
    for n in range(5):
        created(api.post("/services", json={"name": unique(f"p{n}")}))
    paged = api.walk("/audit", 2)
    assert len(paged) == count(db_conn) >= 5
    assert [e["action"] for e in paged[:5]] == ["create_service"] * 5
    ids = [int(e["id"]) for e in paged]
    assert ids == sorted(ids, reverse=True)
    assert api.get("/audit", query_string={"cursor": "nonsense"}).status_code == 400
    bad = api.get("/audit", query_string={"actor_type": "robot", "limit": 0})
    assert bad.status_code == 422
    assert api.get("/audit", query_string={"since": "yesterday"}).status_code == 422


# ---- retention ----------------------------------------------------------------------------------


def test_retention_deletes_events_past_their_days_in_batches_and_keeps_the_rest(
    settings_for: Callable[..., Any],
    redis_url: str,
    api: Api,
    db_conn: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.audit import retention_pass
    from app.platform.engine_pass import ModuleContext
    from app.platform.pool import Database
    from app.platform.redis_client import make_redis

    for n in range(7):
        created(api.post("/services", json={"name": unique(f"r{n}")}))
    db_conn.execute(
        "UPDATE audit_events SET at = at - interval '31 days' WHERE id IN "
        "(SELECT id FROM audit_events ORDER BY id LIMIT 5)"
    )
    kept = [r["id"] for r in db_conn.execute("SELECT id FROM audit_events ORDER BY id OFFSET 5")]
    monkeypatch.setattr(retention_pass, "BATCH", 2)  # three batches: 2, 2, 1
    for days, expected in (("0", None), ("30", "due")):
        settings = settings_for(KLAXON_AUDIT_RETENTION_DAYS=days)
        database = Database(settings, application_name="klaxon-engine")
        redis = make_redis(settings.redis_url, 2.0, settings.redis_tls)
        try:
            due = retention_pass.run(ModuleContext(settings, redis, database))
        finally:
            database.close()
        remaining = [r["id"] for r in db_conn.execute("SELECT id FROM audit_events ORDER BY id")]
        if expected is None:  # 0 days: kept forever
            assert due is None and len(remaining) == len(kept) + 5
        else:
            assert remaining == kept
            assert due is not None and 29 * 86400 < due <= 30 * 86400


def test_one_event_keeps_the_first_200_changes_and_counts_them_all(
    db_conn: psycopg.Connection[Any],
) -> None:
    from app.directory import services

    with db_conn.transaction():
        context.declare(db_conn, context.system("import"))
        made = [services.create_service(db_conn, f"bulk-{n}", "")["id"] for n in range(205)]
    event = db_conn.execute("SELECT * FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
    assert event["change_count"] == 205
    assert [change["id"] for change in event["changes"]] == made[:200]
    assert event["target_id"] == made[0]  # nothing declared a target: the first row changed


def test_concurrent_transactions_each_fold_only_their_own_changes(database_url: str) -> None:
    """Staged rows carry no transaction id: each transaction sees only its own (the others'
    are uncommitted, and folded away before they commit). Interleaved, each gets its event."""
    from psycopg.rows import dict_row

    from app.directory import services

    first = psycopg.connect(database_url, row_factory=dict_row)
    second = psycopg.connect(database_url, row_factory=dict_row)
    try:
        context.declare(first, context.Declared("api_key", "first", "create_service"))
        context.declare(second, context.Declared("api_key", "second", "create_service"))
        a = services.create_service(first, "from-first", "")
        b = services.create_service(second, "from-second", "")
        services.update_service(first, a["id"], {"description": "still first"})
        second.commit()
        first.commit()
        rows = first.execute("SELECT * FROM audit_events ORDER BY id").fetchall()
    finally:
        first.close()
        second.close()
    assert [(r["actor_id"], r["target_id"]) for r in rows] == [
        ("second", b["id"]),
        ("first", a["id"]),
    ]
    assert [c["id"] for c in rows[0]["changes"]] == [b["id"]]
    assert [(c["op"], c["id"]) for c in rows[1]["changes"]] == [
        ("insert", a["id"]),
        ("update", a["id"]),
    ]
