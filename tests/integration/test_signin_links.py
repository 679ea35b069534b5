"""Invitations and password resets: one-time, expiring links sent by email (README, Signing in).

Real Postgres, Redis and a real local SMTP server. The web queues an RQ job naming the link (an
invitation) or the email asked for (a reset); the tests run each queued job's function on the
same arguments the worker would (`run_mail_jobs`), and check that no job holds a token.
tests/system/test_signin_links_e2e.py does the same with a real gunicorn and `klaxon worker`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import structlog
from redis import Redis
from rq import Queue

from app.directory import signin_mail
from app.http.session_cookie import COOKIE
from app.platform.queues import DEFAULT_QUEUE, PASSWORD_RESET_JOB, SIGNIN_LINK_JOB
from config.settings import Settings
from tests.support.api import Api
from tests.support.fakes.smtp import FakeSmtp
from tests.support.net import Tarpit, closed_port
from tests.support.signin import PASSWORD, make_user, sign_in, signed_in

ME = "/api/v1/me"
NEW_PASSWORD = "a freshly chosen passphrase"
LINK = re.compile(r"http://[^\s]+/auth/(invitation|password-reset)/([A-Za-z0-9_-]+)")
SMTP_FROM = "Klaxon <klaxon@example.com>"


@pytest.fixture
def world(
    settings_for: Callable[..., Settings], smtp_server: FakeSmtp, redis_url: str
) -> Iterator[Callable[..., World]]:
    """world(**settings) -> a Klaxon app with SMTP pointed at the local server (an empty value
    leaves a variable unset)."""
    built: list[World] = []

    def build(**overrides: str) -> World:
        env = {"SMTP_URL": smtp_server.url(), "SMTP_FROM": SMTP_FROM, **overrides}
        env = {k: v for k, v in env.items() if v != ""}
        found = World(settings_for(**env), smtp_server, Redis.from_url(redis_url))
        built.append(found)
        return found

    yield build
    for found in built:
        found.app.extensions["klaxon"].stop()
        found.redis.close()


class World:
    """One Klaxon web app (on this test's servers), its SMTP server and its job queue."""

    def __init__(self, settings: Settings, smtp: FakeSmtp, redis: Redis) -> None:
        from app import create_app

        self.settings = settings
        self.smtp = smtp
        self.redis = redis
        self.app = create_app(settings)
        self.app.config["TESTING"] = True

    def client(self) -> Any:
        return self.app.test_client()

    def queued(self) -> list[Any]:
        return list(Queue(DEFAULT_QUEUE, connection=self.redis).get_jobs())

    def run_mail_jobs(self) -> list[str]:
        """Run every queued sign-in link job as the worker would; their outcomes."""
        queue = Queue(DEFAULT_QUEUE, connection=self.redis)
        outcomes = []
        jobs = {SIGNIN_LINK_JOB: signin_mail.send, PASSWORD_RESET_JOB: signin_mail.reset}
        for job in queue.get_jobs():
            assert len(job.args) == 1 and not job.kwargs  # a link id or an email, nothing else
            outcomes.append(jobs[job.func_name](self.settings, *job.args))
            queue.remove(job)
        return outcomes

    def mailed_link(self, count: int = 1) -> tuple[str, str]:
        """(path, token) of the link in the newest of `count` emails."""
        return link_in(self.smtp.wait_for(count)[-1])


def link_in(mail: Any) -> tuple[str, str]:
    """(path without its leading slash, token) of the link an email carries."""
    found = LINK.search(mail.part("text/plain"))
    assert found is not None, mail.part("text/plain")
    return found.group(0).split("://", 1)[1].split("/", 1)[1], found.group(2)


def admin_api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("admin"))


def invite(api: Api, email: str = "new.person@example.com", **extra: Any) -> Any:
    return api.post("/invitations", json={"email": email, "name": "New Person", **extra})


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert body["code"] == code, body
    return body


def set_password(client: Any, path: str, password: str = NEW_PASSWORD, **kwargs: Any) -> Any:
    return client.post(f"/{path}", json={"password": password}, **kwargs)


# ---- invitations ------------------------------------------------------------------------------


def test_an_invitation_emails_a_link_that_sets_the_password_and_signs_in(
    world, make_api_key, db_conn
) -> None:
    w = world()
    api = admin_api(w.client(), make_api_key)
    created = invite(api, role="admin")
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["delivery"] == "queued" and body["link"] is None
    assert body["state"] == "pending" and body["user_created"] is True
    assert body["role"] == "admin" and body["email_sent_at"] is None
    assert w.run_mail_jobs() == ["sent"]
    mail = w.smtp.wait_for(1)[0]
    assert mail.rcpt_tos == ["new.person@example.com"]
    assert mail.message["Subject"] == "[Klaxon] You are invited to Klaxon"
    path, token = w.mailed_link()
    assert path == f"auth/invitation/{token}"
    assert w.settings.public_url in mail.part("text/plain")
    until = datetime.fromisoformat(body["expires_at"]).astimezone(UTC)
    assert f"until {until:%Y-%m-%d %H:%M} UTC" in mail.part("text/plain")
    # The link works, once: its page shows a form and changes nothing.
    person = w.client()
    page = person.get(f"/{path}")
    assert page.status_code == 200 and 'type="password"' in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert sign_in(person, "new.person@example.com", NEW_PASSWORD).status_code == 401
    accepted = person.post(f"/{path}", data={"password": NEW_PASSWORD})
    assert accepted.status_code == 303, accepted.get_data(as_text=True)
    assert accepted.headers["Location"] == "/alerts"  # signed in: on to the alert list
    assert person.get_cookie(COOKIE) is not None
    assert person.get("/alerts").status_code == 200
    me = person.get(ME).get_json()
    assert me["kind"] == "user" and me["user"]["email"] == "new.person@example.com"
    assert me["scope"] == "admin"
    assert sign_in(w.client(), "new.person@example.com", NEW_PASSWORD).status_code == 200
    listed = api.get("/invitations").get_json()["items"]
    assert [(i["id"], i["state"]) for i in listed] == [(body["id"], "accepted")]
    assert listed[0]["accepted_at"] is not None and listed[0]["email_sent_at"] is not None
    # The table keeps the token's digest, never the token.
    row = db_conn.execute("SELECT * FROM signin_links").fetchone()
    assert token.encode() not in b"".join(str(v).encode() for v in row.values())


def test_a_link_works_once(world, make_api_key) -> None:
    w = world()
    invite(admin_api(w.client(), make_api_key))
    w.run_mail_jobs()
    path, _ = w.mailed_link()
    assert set_password(w.client(), path).status_code == 200
    again = w.client()
    assert_error(set_password(again, path, "another passphrase"), 410, "link_gone")
    page = again.get(f"/{path}")
    assert page.status_code == 410 and "no longer works" in page.get_data(as_text=True)
    assert again.get_cookie(COOKIE) is None


def test_an_expired_link_is_refused(world, make_api_key, db_conn) -> None:
    w = world()
    invite(admin_api(w.client(), make_api_key))
    w.run_mail_jobs()
    path, _ = w.mailed_link()
    db_conn.execute(
        "UPDATE signin_links SET created_at = now() - interval '2 hours', "
        "expires_at = now() - interval '1 second'"
    )
    assert w.client().get(f"/{path}").status_code == 410
    assert_error(set_password(w.client(), path), 410, "link_gone")


def test_the_ttl_settings_set_the_expiry(world, make_api_key) -> None:
    w = world(KLAXON_INVITATION_TTL="120")
    body = invite(admin_api(w.client(), make_api_key)).get_json()
    lives = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["created_at"])
    assert 119 <= lives.total_seconds() <= 121


def test_reinviting_sends_a_new_link_and_voids_the_old_one(world, make_api_key) -> None:
    w = world()
    api = admin_api(w.client(), make_api_key)
    first = invite(api).get_json()
    w.run_mail_jobs()
    old_path, _ = w.mailed_link(1)
    second = invite(api, name="Ignored").get_json()
    assert second["user_id"] == first["user_id"] and second["user_created"] is False
    assert second["name"] == "New Person"
    w.run_mail_jobs()
    new_path, _ = w.mailed_link(2)
    assert new_path != old_path
    assert_error(set_password(w.client(), old_path), 410, "link_gone")
    states = {i["id"]: i["state"] for i in api.get("/invitations").get_json()["items"]}
    assert states == {first["id"]: "replaced", second["id"]: "pending"}
    assert set_password(w.client(), new_path).status_code == 200


def test_a_revoked_invitation_link_stops_working(world, make_api_key) -> None:
    w = world()
    api = admin_api(w.client(), make_api_key)
    created = invite(api).get_json()
    assert api.delete(f"/invitations/{created['id']}").status_code == 204
    assert_error(api.delete(f"/invitations/{created['id']}"), 404, "not_found")
    assert w.run_mail_jobs() == ["dead"]  # revoked before the worker got to it: not sent
    assert w.smtp.received() == []
    states = [i["state"] for i in api.get("/invitations").get_json()["items"]]
    assert states == ["revoked"]


def test_without_smtp_the_answer_carries_the_link(world, make_api_key) -> None:
    w = world(SMTP_URL="", SMTP_FROM="")
    created = invite(admin_api(w.client(), make_api_key))
    body = created.get_json()
    assert created.status_code == 201 and body["delivery"] == "not_configured"
    assert w.queued() == []
    link = body["link"]
    assert link.startswith(f"{w.settings.public_url}/auth/invitation/")
    assert set_password(w.client(), link.split("/", 3)[3]).status_code == 200
    listed = admin_api(w.client(), make_api_key).get("/invitations").get_json()["items"]
    assert "link" not in listed[0]  # shown once, never again


def test_a_redis_outage_creates_the_invitation_and_says_it_was_not_queued(
    world, make_api_key
) -> None:
    w = world(REDIS_URL=f"redis://127.0.0.1:{closed_port()}")
    created = invite(admin_api(w.client(), make_api_key))
    assert created.status_code == 201
    assert created.get_json()["delivery"] == "not_queued"
    assert created.get_json()["link"] is None


def test_who_may_invite_whom(world, make_api_key, db_conn) -> None:
    w = world()
    client = w.client()
    assert_error(invite(Api(client, make_api_key("write"))), 403, "forbidden")
    user = make_user(db_conn)
    csrf = signed_in(client, user)
    refused = client.post(
        "/api/v1/invitations", json={"email": "x@example.com", "name": "X"},
        headers={"X-CSRF-Token": csrf},
    )  # fmt: skip
    assert_error(refused, 403, "forbidden")
    api = admin_api(w.client(), make_api_key)
    body = assert_error(invite(api, email=user["email"].upper()), 409, "conflict")
    assert "already has a password" in body["error"]
    disabled = make_user(db_conn, password=None)
    db_conn.execute("UPDATE users SET disabled_at = now() WHERE id = %s", (disabled["id"],))
    assert_error(invite(api, email=disabled["email"]), 409, "conflict")
    assert_error(invite(api, email="not-an-email"), 422, "validation_failed")


def test_an_admin_session_invites_and_is_recorded_as_the_inviter(world, db_conn) -> None:
    w = world()
    admin = make_user(db_conn, "admin")
    client = w.client()
    csrf = signed_in(client, admin)
    created = client.post(
        "/api/v1/invitations", json={"email": "y@example.com", "name": "Y"},
        headers={"X-CSRF-Token": csrf},
    )  # fmt: skip
    assert created.status_code == 201, created.get_json()
    row = db_conn.execute("SELECT created_by::text AS by FROM signin_links").fetchone()
    assert row["by"] == admin["id"]


def test_a_weak_password_is_refused_and_the_link_still_works(world, make_api_key) -> None:
    w = world()
    invite(admin_api(w.client(), make_api_key))
    w.run_mail_jobs()
    path, _ = w.mailed_link()
    assert_error(set_password(w.client(), path, "short"), 422, "validation_failed")
    page = w.client().post(f"/{path}", data={"password": "short"})
    assert page.status_code == 422 and "at least 8 characters" in page.get_data(as_text=True)
    assert set_password(w.client(), path).status_code == 200


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the MAC altered
        lambda t: ("A" if t[0] != "A" else "B") + t[1:],  # the id altered
        lambda t: t[:-2],  # cut short
        lambda t: t + "AAAA",  # too long
        lambda t: "%" * 64,  # not base64
        lambda t: "é" * 64,  # not ASCII
        lambda t: "A" * 5000,  # huge
    ],
)
def test_a_tampered_token_is_not_a_link(world, make_api_key, mangle) -> None:
    w = world()
    invite(admin_api(w.client(), make_api_key))
    w.run_mail_jobs()
    _, token = w.mailed_link()
    path = f"auth/invitation/{mangle(token)}"
    assert_error(set_password(w.client(), path), 404, "link_not_valid")
    assert w.client().get(f"/{path}").status_code == 404


def test_a_token_for_one_purpose_does_not_open_the_other(world, make_api_key) -> None:
    w = world()
    invite(admin_api(w.client(), make_api_key))
    w.run_mail_jobs()
    _, token = w.mailed_link()
    assert_error(set_password(w.client(), f"auth/password-reset/{token}"), 404, "link_not_valid")


def test_refused_tokens_count_towards_the_failed_credentials_limit(world) -> None:
    w = world(KLAXON_LIMIT_FAILED_AUTH="3/minute")
    client = w.client()
    for _ in range(3):
        assert client.get(f"/auth/invitation/{'A' * 64}").status_code == 404
    limited = client.get(f"/auth/invitation/{'A' * 64}")
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60


def test_sign_in_links_cannot_be_used_from_another_site(world, make_api_key) -> None:
    w = world()
    invite(admin_api(w.client(), make_api_key))
    w.run_mail_jobs()
    path, _ = w.mailed_link()
    refused = set_password(w.client(), path, headers={"Sec-Fetch-Site": "cross-site"})
    assert_error(refused, 403, "forbidden")
    assert set_password(w.client(), path).status_code == 200


# ---- password resets --------------------------------------------------------------------------


def ask_reset(client: Any, email: str, **kwargs: Any) -> Any:
    return client.post("/auth/password-reset", json={"email": email}, **kwargs)


def test_a_reset_for_an_unknown_email_answers_the_same_and_sends_nothing(world, db_conn) -> None:
    w = world()
    user = make_user(db_conn)
    unknown = ask_reset(w.client(), "nobody@example.com")
    known = ask_reset(w.client(), user["email"])
    assert (unknown.status_code, unknown.get_json()) == (known.status_code, known.get_json())
    assert known.status_code == 202
    assert len(w.queued()) == 2  # the web does the same for both; the worker looks them up
    assert w.run_mail_jobs() == ["no_link", "sent"]
    mail = w.smtp.wait_for(1)
    assert [m.rcpt_tos for m in mail] == [[user["email"]]]
    # The form answers alike too.
    pages = [w.client().post("/auth/password-reset", data={"email": e}) for e in
             ("nobody@example.com", user["email"])]  # fmt: skip
    assert pages[0].status_code == pages[1].status_code == 200
    assert pages[0].get_data() == pages[1].get_data()


def test_a_reset_ends_every_session_and_signs_in_afresh(world, db_conn) -> None:
    w = world()
    user = make_user(db_conn)
    laptop, phone = w.client(), w.client()
    signed_in(laptop, user)
    signed_in(phone, user)
    assert ask_reset(w.client(), user["email"]).status_code == 202
    w.run_mail_jobs()
    path, _ = w.mailed_link()
    assert path.startswith("auth/password-reset/")
    assert w.smtp.received()[0].message["Subject"] == "[Klaxon] Reset your password"
    browser = w.client()
    done = set_password(browser, path)
    assert done.status_code == 200 and done.get_json()["user"]["id"] == user["id"]
    for old in (laptop, phone):
        assert_error(old.get(ME), 401, "unauthorized")
    assert browser.get(ME).status_code == 200
    assert sign_in(w.client(), user["email"], PASSWORD).status_code == 401
    assert sign_in(w.client(), user["email"], NEW_PASSWORD).status_code == 200


def test_resets_are_limited_per_address(world, db_conn) -> None:
    w = world(KLAXON_LIMIT_RESET_PER_ADDRESS="3/minute")
    here, elsewhere = {"REMOTE_ADDR": "198.51.100.7"}, {"REMOTE_ADDR": "198.51.100.8"}
    client = w.client()
    for n in range(3):
        assert ask_reset(client, f"guess{n}@example.com", environ_base=here).status_code == 202
    limited = ask_reset(client, "someone@example.com", environ_base=here)
    body = assert_error(limited, 429, "too_many_requests")
    assert body["details"]["retry_after"] == int(limited.headers["Retry-After"]) >= 1
    assert ask_reset(client, "someone@example.com", environ_base=elsewhere).status_code == 202
    page = client.post("/auth/password-reset", data={"email": "x@example.com"}, environ_base=here)
    assert page.status_code == 429 and page.headers["Retry-After"]


def test_resets_are_limited_per_account_whether_or_not_it_exists(world, db_conn) -> None:
    w = world(KLAXON_LIMIT_RESET_PER_ACCOUNT="2/minute")
    user = make_user(db_conn)
    for email in (user["email"], "nobody@example.com"):
        for n in range(2):
            environ = {"REMOTE_ADDR": f"198.51.100.{n + 1}"}
            assert ask_reset(w.client(), email, environ_base=environ).status_code == 202
        limited = ask_reset(w.client(), email.upper(), environ_base={"REMOTE_ADDR": "203.0.113.9"})
        assert_error(limited, 429, "too_many_requests")
        assert int(limited.headers["Retry-After"]) >= 1
    assert len(w.queued()) == 4  # two per address: the 429s queued nothing


def test_a_disabled_user_gets_no_link_and_their_open_link_dies(world, db_conn) -> None:
    w = world()
    user = make_user(db_conn)
    assert ask_reset(w.client(), user["email"]).status_code == 202
    w.run_mail_jobs()
    path, _ = w.mailed_link()
    db_conn.execute("UPDATE users SET disabled_at = now() WHERE id = %s", (user["id"],))
    assert_error(set_password(w.client(), path), 410, "link_gone")
    assert ask_reset(w.client(), user["email"]).status_code == 202
    assert w.run_mail_jobs() == ["no_link"]
    assert len(w.smtp.received()) == 1


def test_a_user_without_a_password_gets_no_reset_link(world, db_conn, make_api_key) -> None:
    w = world()
    paged_only = make_user(db_conn, password=None)
    assert ask_reset(w.client(), paged_only["email"]).status_code == 202
    assert w.run_mail_jobs() == ["no_link"]
    invite(admin_api(w.client(), make_api_key), email=paged_only["email"])
    assert w.run_mail_jobs() == ["sent"]
    assert set_password(w.client(), w.mailed_link()[0]).status_code == 200


def test_a_password_change_kills_open_links(world, db_conn) -> None:
    w = world()
    user = make_user(db_conn)
    ask_reset(w.client(), user["email"])
    w.run_mail_jobs()
    path, _ = w.mailed_link()
    client = w.client()
    csrf = signed_in(client, user)
    changed = client.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )  # fmt: skip
    assert changed.status_code == 204
    assert_error(set_password(w.client(), path, "yet another one"), 410, "link_gone")


def test_a_new_reset_link_voids_the_previous_one(world, db_conn) -> None:
    w = world()
    user = make_user(db_conn)
    ask_reset(w.client(), user["email"])
    ask_reset(w.client(), user["email"])
    assert w.run_mail_jobs() == ["sent", "sent"]
    first, _ = link_in(w.smtp.wait_for(2)[0])
    second, _ = w.mailed_link(2)
    assert_error(set_password(w.client(), first), 410, "link_gone")
    assert set_password(w.client(), second).status_code == 200


def test_the_reset_pages_and_the_forgot_password_link(world) -> None:
    w = world()
    login = w.client().get("/admin/login").get_data(as_text=True)
    assert 'href="/auth/password-reset"' in login and "Forgot password?" in login
    form = w.client().get("/auth/password-reset")
    assert form.status_code == 200 and 'name="email"' in form.get_data(as_text=True)
    assert form.headers["X-Frame-Options"] == "DENY"
    assert_error(w.client().post("/auth/password-reset", json={}), 422, "validation_failed")


# ---- secrets and failures ---------------------------------------------------------------------


def test_the_token_never_appears_in_logs(world, make_api_key, db_conn) -> None:
    w = world()
    user = make_user(db_conn)
    with structlog.testing.capture_logs() as logged:
        invite(admin_api(w.client(), make_api_key))
        ask_reset(w.client(), user["email"])
        w.run_mail_jobs()
        tokens = [link_in(mail)[1] for mail in w.smtp.wait_for(2)]
        for mail in w.smtp.received():
            path, _ = link_in(mail)
            w.client().get(f"/{path}")
            assert set_password(w.client(), path).status_code == 200
            set_password(w.client(), path)  # refused: logged as such
    events = {entry["event"] for entry in logged}
    assert {"signin_link_emailed", "signin_link_used", "signin_link_refused"} <= events
    text = repr(logged)
    for token in tokens:
        assert token not in text and token[:20] not in text


def test_an_smtp_server_that_refuses_connections_fails_the_send_quickly(
    world, make_api_key
) -> None:
    w = world(SMTP_URL=f"smtp://127.0.0.1:{closed_port()}", KLAXON_SEND_TIMEOUT="2")
    created = invite(admin_api(w.client(), make_api_key)).get_json()
    with structlog.testing.capture_logs() as logged:
        started = time.monotonic()
        assert w.run_mail_jobs() == ["failed"]
    assert time.monotonic() - started < 2
    failed = [e for e in logged if e["event"] == "signin_link_email_failed"]
    assert len(failed) == 1 and "connection refused" in failed[0]["error"]
    listed = admin_api(w.client(), make_api_key).get("/invitations").get_json()["items"]
    assert listed[0]["id"] == created["id"] and listed[0]["email_sent_at"] is None
    assert listed[0]["state"] == "pending"  # the admin may pass it on by re-inviting


def test_an_smtp_tarpit_holds_a_send_no_longer_than_its_timeout(world, make_api_key) -> None:
    with Tarpit() as tarpit:
        w = world(SMTP_URL=f"smtp://127.0.0.1:{tarpit.port}", KLAXON_SEND_TIMEOUT="0.5")
        invite(admin_api(w.client(), make_api_key))
        started = time.monotonic()
        assert w.run_mail_jobs() == ["failed"]
        elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < signin_mail.SEND_ATTEMPTS * 0.5 + 1.5


def test_the_request_never_waits_for_smtp(world, make_api_key, db_conn) -> None:
    with Tarpit() as tarpit:
        w = world(SMTP_URL=f"smtp://127.0.0.1:{tarpit.port}", KLAXON_SEND_TIMEOUT="5")
        user = make_user(db_conn)
        started = time.monotonic()
        assert invite(admin_api(w.client(), make_api_key)).status_code == 201
        assert ask_reset(w.client(), user["email"]).status_code == 202
        assert time.monotonic() - started < 2.5  # two Argon2-free requests, no SMTP wait
    assert len(w.queued()) == 2


def test_a_redis_outage_answers_a_reset_request_as_always(world, db_conn) -> None:
    w = world(REDIS_URL=f"redis://127.0.0.1:{closed_port()}")
    user = make_user(db_conn)
    with structlog.testing.capture_logs() as logged:
        answer = ask_reset(w.client(), user["email"])
    assert answer.status_code == 202
    assert "password_reset_not_queued" in {e["event"] for e in logged}


def test_without_smtp_a_reset_request_answers_as_always_and_queues_nothing(world, db_conn) -> None:
    w = world(SMTP_URL="", SMTP_FROM="")
    user = make_user(db_conn)
    assert ask_reset(w.client(), user["email"]).status_code == 202
    assert w.queued() == []


def test_the_token_is_not_in_the_queued_job(world, make_api_key) -> None:
    w = world()
    invite(admin_api(w.client(), make_api_key))
    [job] = w.queued()
    raw = b"".join(v for v in w.redis.hgetall(f"rq:job:{job.id}").values())
    w.run_mail_jobs()
    _, token = w.mailed_link()
    assert token.encode() not in raw


def test_a_queued_invitation_of_a_deleted_user_is_not_sent(world, make_api_key, db_conn) -> None:
    w = world()
    created = invite(admin_api(w.client(), make_api_key)).get_json()
    db_conn.execute("DELETE FROM users WHERE id = %s", (created["user_id"],))
    assert w.run_mail_jobs() == ["dead"]
    assert w.smtp.received() == []


def test_the_password_trigger_voids_links_only_on_a_real_change(
    db_conn: psycopg.Connection[Any],
) -> None:
    user = make_user(db_conn)
    from app.directory import signin_links

    issued = signin_links.issue(db_conn, "k" * 40, user["id"], "password_reset", 60)
    db_conn.execute("UPDATE users SET name = 'renamed' WHERE id = %s", (user["id"],))
    assert signin_links.get_link(db_conn, issued.link["id"])["live"] is True  # type: ignore[index]
    db_conn.execute("UPDATE users SET password_hash = password_hash WHERE id = %s", (user["id"],))
    assert signin_links.get_link(db_conn, issued.link["id"])["live"] is True  # type: ignore[index]
