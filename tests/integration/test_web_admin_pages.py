"""The administration pages through Flask's test client on real Postgres and Redis (README,
Web app, Administration): who gets in (admin: 200; a user: the 403 page; no session: the
sign-in page), users and invitations, teams and memberships, API keys, the audit log's
filters and cursor, and the system page's truth of /healthz with a fatal report in Redis."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import psycopg
import pytest
from redis import Redis

from app.directory import api_keys, sessions, teams, users
from app.platform.fatal import fatal_key
from tests.integration.test_web_pages import csrf_of, page_sign_in
from tests.support.signin import make_user
from tests.support.teams import make_team

# Seconds the system page may take with Redis hanging: a few check timeouts (1 s), no more.
HANG_BUDGET = 5.0
PAGES = ("/admin/users", "/admin/teams", "/admin/api-keys", "/admin/audit", "/admin/system")


def status(client: Any, path: str, csrf: str, **fields: str) -> int:
    """POST a page's form with the session's CSRF token; the answer's status."""
    return int(client.post(path, data={"csrf_token": csrf, **fields}).status_code)


@pytest.fixture
def admin_user(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    return make_user(db_conn, role="admin")


@pytest.fixture
def csrf(client: Any, admin_user: dict[str, Any]) -> str:
    """Sign the admin in through the page; the session's CSRF token."""
    assert page_sign_in(client, admin_user).status_code == 303
    return csrf_of(client.get("/admin/users").get_data(as_text=True))


def test_admin_pages_are_for_admins_only(
    client: Any, db_conn: psycopg.Connection[Any], admin_user: dict[str, Any]
) -> None:
    team = make_team(db_conn, name="Ops")
    every = (*PAGES, f"/admin/teams/{team['id']}")
    for path in (*every, "/admin", "/admin/"):
        response = client.get(path)  # no session: the web app's sign-in page, coming back
        assert response.status_code == 303, path
        assert response.headers["Location"].startswith("/login?next=%2Fadmin"), path
    assert page_sign_in(client, make_user(db_conn)).status_code == 303
    for path in (*every, "/admin"):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert "Not allowed" in refused.get_data(as_text=True)
        assert "script-src 'self'" in refused.headers["Content-Security-Policy"]
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/alerts").get_data(True))})
    assert page_sign_in(client, admin_user).status_code == 303
    assert client.get("/admin").headers["Location"] == "/admin/users"
    assert client.get("/admin/").headers["Location"] == "/admin/users"
    for path in every:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert 'aria-label="Administration"' in html and 'href="/admin/rq/"' in html
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert client.get("/admin/teams/00000000-0000-0000-0000-000000000000").status_code == 404


def test_users_roles_status_sessions_and_deletion(
    client: Any, db_conn: psycopg.Connection[Any], admin_user: dict[str, Any], csrf: str
) -> None:
    ada = make_user(db_conn)
    make_team(db_conn, managers=[ada], name="Payments")
    html = client.get("/admin/users").get_data(as_text=True)
    row = re.search(rf'data-user-id="{ada["id"]}">(.*?)</li>', html, re.S)
    assert row and "Payments" in row.group(1) and "(manager)" in row.group(1)
    assert "not known" in row.group(1)  # never signed in
    base = f"/admin/users/{ada['id']}"
    assert client.post(base + "/role", data={"role": "admin"}).status_code == 403  # no CSRF
    assert client.post(base + "/role", data={"csrf_token": csrf, "role": "boss"}).status_code == 422
    done = client.post(base + "/role", data={"csrf_token": csrf, "role": "admin"})
    assert done.status_code == 303 and "done=role" in done.headers["Location"]
    assert users.get_user(db_conn, ada["id"])["role"] == "admin"
    client.post(base + "/disable", data={"csrf_token": csrf})
    assert users.get_user(db_conn, ada["id"])["disabled_at"] is not None
    assert 'badge triggered">disabled' in client.get("/admin/users").get_data(as_text=True)
    client.post(base + "/enable", data={"csrf_token": csrf})
    assert users.get_user(db_conn, ada["id"])["disabled_at"] is None
    sessions.create_session(db_conn, ada["id"], 3600, 7200)
    assert client.post(base + "/sessions/revoke", data={"csrf_token": csrf}).status_code == 303
    assert sessions.list_sessions(db_conn, ada["id"], None, 10) == []
    assert client.post(base + "/delete", data={"csrf_token": csrf}).status_code == 303
    assert users.get_user(db_conn, ada["id"]) is None
    gone = "/admin/users/00000000-0000-0000-0000-000000000000"
    for action in ("/delete", "/sessions/revoke", "/disable"):
        assert client.post(gone + action, data={"csrf_token": csrf}).status_code == 404, action
    events = db_conn.execute("SELECT action FROM audit_events ORDER BY id").fetchall()
    assert {"set_user_role", "disable_user", "delete_user"} <= {e["action"] for e in events}


def test_invitations_are_made_shown_once_without_smtp_and_revoked(
    client: Any, db_conn: psycopg.Connection[Any], csrf: str
) -> None:
    form = {"csrf_token": csrf, "name": "Grace", "email": "grace@example.com", "role": "user"}
    assert client.post("/admin/invitations", data={**form, "email": "nope"}).status_code == 422
    shown = client.post("/admin/invitations", data=form)
    assert shown.status_code == 200  # no SMTP here: the link, this once
    html = shown.get_data(as_text=True)
    assert "/auth/invitation" in html or "/invitation" in html
    assert 'href="/admin/users"' in html and shown.headers["Cache-Control"] == "no-store"
    listing = client.get("/admin/users").get_data(as_text=True)
    found = re.search(r'data-invitation-id="([0-9a-f-]+)"', listing)
    assert found and "grace@example.com" in listing
    assert re.search(
        r'grace@example.com</span>\s*<span class="badge closed">user</span>\s*'
        r'<span class="badge acknowledged">invited</span>',
        listing,
    )
    revoke = f"/admin/invitations/{found.group(1)}/revoke"
    assert client.post(revoke, data={"csrf_token": csrf}).status_code == 303
    assert 'data-invitation-id="' not in client.get("/admin/users").get_data(as_text=True)
    assert client.post(revoke, data={"csrf_token": csrf}).status_code == 404
    taken = users.list_users(db_conn)[0]["email"]
    assert status(client, "/admin/invitations", csrf, name="x", email=taken, role="user") == 409


def test_teams_and_memberships(
    client: Any, db_conn: psycopg.Connection[Any], admin_user: dict[str, Any], csrf: str
) -> None:
    made = client.post("/admin/teams", data={"csrf_token": csrf, "name": "Storage"})
    assert made.status_code == 303
    team_id = made.headers["Location"].split("/")[3].split("?")[0]
    assert status(client, "/admin/teams", csrf, name="storage") == 409
    assert client.post("/admin/teams", data={"csrf_token": csrf, "name": ""}).status_code == 422
    page = f"/admin/teams/{team_id}"
    assert client.post(page, data={"csrf_token": csrf, "name": "Storage team"}).status_code == 303
    assert teams.get_team(db_conn, team_id)["name"] == "Storage team"
    bob = make_user(db_conn)
    add = {"csrf_token": csrf, "user_id": bob["id"], "role": "member"}
    assert client.post(page + "/members", data=add).status_code == 303
    assert client.post(page + "/members", data=add).status_code == 409
    assert client.post(page + "/members", data={**add, "user_id": "x"}).status_code == 422
    member = f"{page}/members/{bob['id']}"
    assert status(client, member + "/role", csrf, role="manager") == 303
    assert teams.get_member(db_conn, team_id, bob["id"])["role"] == "manager"
    assert "Make member" in client.get(page).get_data(as_text=True)
    assert client.post(member + "/remove", data={"csrf_token": csrf}).status_code == 303
    assert client.post(member + "/remove", data={"csrf_token": csrf}).status_code == 404
    from app.directory import services

    services.create_service(db_conn, "disk", "", team_id)
    still = client.post(page + "/delete", data={"csrf_token": csrf})
    assert still.status_code == 409 and "still owns" in still.get_data(as_text=True)
    db_conn.execute("DELETE FROM services")
    assert client.post(page + "/delete", data={"csrf_token": csrf}).status_code == 303
    assert client.post(page + "/delete", data={"csrf_token": csrf}).status_code == 404


def test_api_keys_listed_with_owners_created_once_and_revoked(
    client: Any, db_conn: psycopg.Connection[Any], admin_user: dict[str, Any], csrf: str
) -> None:
    team = make_team(db_conn, name="Edge")
    personal = api_keys.create_api_key(db_conn, "laptop", "write", admin_user["id"], None)
    team_key = api_keys.create_api_key(db_conn, "edge ci", "read", None, team["id"])
    html = client.get("/admin/api-keys").get_data(as_text=True)
    assert f"user {admin_user['name']}" in html and "Edge</a>" in html and "never" in html
    bad = client.post("/admin/api-keys", data={"csrf_token": csrf, "name": "x", "scope": "root"})
    assert bad.status_code == 422
    made = client.post(
        "/admin/api-keys", data={"csrf_token": csrf, "name": "deploy", "scope": "write"}
    )
    assert made.status_code == 303 and made.headers["Location"].startswith("/admin/api-keys?key=")
    shown = client.get(made.headers["Location"]).get_data(as_text=True)
    assert re.search(r'id="new-key" [^>]*value="klx_', shown) and "scope write" in shown
    assert "klx_" not in client.get(made.headers["Location"]).get_data(as_text=True)  # once
    assert "deploy" in client.get("/admin/api-keys").get_data(as_text=True)
    for key in (personal, team_key):
        assert status(client, f"/admin/api-keys/{key['id']}/revoke", csrf) == 303
        assert api_keys.get_api_key(db_conn, key["id"])["revoked_at"] is not None
    missing = "/admin/api-keys/00000000-0000-0000-0000-000000000000/revoke"
    assert client.post(missing, data={"csrf_token": csrf}).status_code == 404


def test_the_audit_log_filters_pages_and_shows_changes(
    client: Any, db_conn: psycopg.Connection[Any], admin_user: dict[str, Any], csrf: str
) -> None:
    for n in range(55):
        client.post("/admin/teams", data={"csrf_token": csrf, "name": f"team {n}"})
    first = client.get("/admin/audit?target_type=teams").get_data(as_text=True)
    assert first.count('class="event"') == 50
    assert "team 54" in first and "<ins>team 54</ins>" in first
    assert f">{admin_user['name']}</a>" in first
    older = re.search(r'href="(/admin/audit\?[^"]*cursor=[^"]+)" rel="next"', first)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert second.count('class="event"') == 5 and "team 0" in second
    team = teams.team_ids_by_name(db_conn, ["team 3"])
    (team_id,) = team.values()
    client.post(f"/admin/teams/{team_id}", data={"csrf_token": csrf, "name": "renamed"})
    one = client.get(f"/admin/audit?target_type=teams&target_id={team_id}").get_data(True)
    assert one.count('class="event"') == 2
    assert "<del>team 3</del> → <ins>renamed</ins>" in one
    none = client.get("/admin/audit?actor_type=api_key").get_data(as_text=True)
    assert 'class="event"' not in none and "No audit events match" in none
    later = client.get("/admin/audit?since=2999-01-01T00:00").get_data(as_text=True)
    assert "No audit events match" in later
    assert client.get("/admin/audit?until=2000-01-01T00:00").status_code == 200
    for bad in ("actor_type=robot", "since=yesterday", "cursor=%21%21", "target_id=" + "x" * 201):
        assert client.get(f"/admin/audit?{bad}").status_code == 422, bad


def test_the_system_page_tells_the_truth_of_healthz(client: Any, redis_url: str, csrf: str) -> None:
    report = {"process": "worker", "instance": "w-7", "check": "smtp",
              "error": "SMTP server refused: 535 authentication failed\nsecond line",
              "at": "2026-12-07T10:00:00+00:00", "pid": 4242, "host": "box"}  # fmt: skip
    Redis.from_url(redis_url).set(fatal_key("worker", "w-7"), json.dumps(report), ex=60)
    # Two snapshots must agree, so first the steady state gunicorn waits for before it serves
    # (config/gunicorn.conf.py): the listener connected, not still "connecting".
    assert client.application.extensions["klaxon"].start_and_wait()
    health = client.get("/healthz").get_json()
    page = client.get("/admin/system")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'id="overall">{health["status"]}<' in html
    for name, (check,) in health["checks"].items():
        shown = rf'data-check="{name}"><strong>{name}</strong> <span class="badge status-(\w+)"'
        found = re.search(shown, html)
        assert found and found.group(1) == check["status"], name
    assert "worker@w-7" in html and "535 authentication failed\nsecond line" in html
    assert "check smtp" in html and "pid 4242" in html
    assert 'data-queue="klaxon-notify"' in html and "No engine heartbeat" in html
    assert 'href="/admin/rq/"' in html


def test_the_system_page_shows_each_worker_the_engine_leader_and_queue_depths(
    client: Any, redis_url: str, csrf: str
) -> None:
    from rq import Queue, Worker
    from rq.worker import WorkerStatus

    from app.platform.engine_heartbeat import Heartbeat, write_heartbeat
    from app.platform.queues import DEFAULT_QUEUE, NOTIFY_QUEUE

    redis = Redis.from_url(redis_url)
    now = time.time()
    write_heartbeat(redis, Heartbeat("engine-a", 4711, now - 600, now - 2, now - 1, 42, 5.0))
    worker = Worker([NOTIFY_QUEUE, DEFAULT_QUEUE], connection=redis, name="worker-one")
    worker.register_birth()
    worker.set_state(WorkerStatus.IDLE)
    worker.heartbeat()
    for n in range(3):
        Queue(DEFAULT_QUEUE, connection=redis).enqueue("builtins.print", n)
    html = client.get("/admin/system").get_data(as_text=True)
    row = re.search(r"<code>worker-one</code></td>(.*?)</tr>", html, re.S)
    assert row and f"{NOTIFY_QUEUE}, {DEFAULT_QUEUE}" in row.group(1) and "s ago" in row.group(1)
    assert 'data-label="State">idle' in row.group(1)
    assert "<code>engine-a</code> (pid 4711)" in html and "<dd>42</dd>" in html
    assert re.search(r'status-pass">1\.\d s</span> since its last cycle ended', html)
    depth = re.search(rf'data-queue="{DEFAULT_QUEUE}">(.*?)</tr>', html, re.S)
    assert depth and 'data-label="Jobs waiting">3<' in depth.group(1)
    assert re.search(
        r'data-check="engine"><strong>engine</strong> <span class="badge status-pass"', html
    )


def test_the_system_page_answers_promptly_when_redis_hangs(
    settings_for: Any, db_conn: psycopg.Connection[Any], admin_user: dict[str, Any]
) -> None:
    from app import create_app
    from tests.support.net import Tarpit

    with Tarpit() as tarpit:
        app = create_app(
            settings_for(REDIS_URL=f"redis://127.0.0.1:{tarpit.port}/0", KLAXON_CHECK_TIMEOUT="1")
        )
        try:
            client = app.test_client()
            assert page_sign_in(client, admin_user).status_code == 303
            started = time.monotonic()
            page = client.get("/admin/system")
            assert time.monotonic() - started < HANG_BUDGET
        finally:
            app.extensions["klaxon"].stop()
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(
        r'data-check="redis"><strong>redis</strong> <span class="badge status-fail"', html
    )
    assert "Details unavailable" in html and 'id="overall">fail<' in html


def test_every_admin_form_needs_the_csrf_token_and_an_admin(
    client: Any, web_app: Any, db_conn: psycopg.Connection[Any], csrf: str
) -> None:
    posts = [
        re.sub(r"<uuid:\w+>", "00000000-0000-0000-0000-000000000000", rule.rule)
        for rule in web_app.url_map.iter_rules()
        if rule.endpoint.startswith("pages.")
        and rule.rule.startswith("/admin")
        and "POST" in (rule.methods or ())
    ]
    assert len(posts) >= 14, posts
    for path in posts:
        refused = client.post(path, data={"name": "x"})
        assert refused.status_code == 403, path
        assert "Not allowed" in refused.get_data(as_text=True), path
    client.post("/logout", data={"csrf_token": csrf})
    assert page_sign_in(client, make_user(db_conn)).status_code == 303
    user_csrf = csrf_of(client.get("/alerts").get_data(as_text=True))
    for path in posts:
        assert status(client, path, user_csrf, name="x") == 403, path
