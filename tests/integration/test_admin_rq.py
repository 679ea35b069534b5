"""rq-dashboard at /admin/rq: only for admin API keys (Bearer) or an admin user's session."""

from __future__ import annotations

import time

import pytest
from redis import Redis
from rq import Queue

from app.http.session_cookie import COOKIE
from app.platform.queues import ALL_QUEUES, NOTIFY_QUEUE
from tests.support.signin import PASSWORD, admin_sign_in, make_user, signed_in
from workers.worker import announce_queues

# Every kind of thing rq-dashboard serves: pages, JSON, static files, actions, and paths that
# match nothing (which must not reveal more to a stranger than the pages do).
GET_PATHS = [
    "/admin/rq/",
    "/admin/rq",
    "/admin/rq/0/",
    "/admin/rq/0/view/workers",
    "/admin/rq/0/view/jobs",
    "/admin/rq/0/data/queues.json",
    "/admin/rq/0/data/workers.json",
    "/admin/rq/0/data/jobs/klaxon-notify/queued/8/asc/1.json",
    "/admin/rq/0/data/job/some-job.json",
    "/admin/rq/static/css/main.css",
    "/admin/rq/static/js/jquery-3.5.1.min.js",
    "/admin/rq/favicon.ico",
    "/admin/rq/requeue/klaxon-notify",
    "/admin/rq/no-such-page",
]
POST_PATHS = [
    "/admin/rq/job/some-job/delete",
    "/admin/rq/job/some-job/requeue",
    "/admin/rq/queue/klaxon-notify/queued/empty",
    "/admin/rq/queue/klaxon-notify/compact",
]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_envelope(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["code"] == code
    assert set(body) == {"error", "code", "details", "request_id"}
    assert body["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("path", GET_PATHS)
def test_admin_pages_answer_401_without_a_key(client, path):
    assert_envelope(client.get(path), 401, "unauthorized")


@pytest.mark.parametrize("path", POST_PATHS)
def test_dashboard_actions_answer_401_without_a_key(client, redis_url, path):
    Queue(NOTIFY_QUEUE, connection=Redis.from_url(redis_url)).enqueue("builtins.print", "x")
    assert_envelope(client.post(path), 401, "unauthorized")
    assert Queue(NOTIFY_QUEUE, connection=Redis.from_url(redis_url)).count == 1


@pytest.mark.parametrize("scope", ["read", "write"])
@pytest.mark.parametrize("path", GET_PATHS)
def test_admin_pages_answer_403_to_read_and_write_keys(client, make_api_key, scope, path):
    assert_envelope(client.get(path, headers=bearer(make_api_key(scope))), 403, "forbidden")


@pytest.mark.parametrize("scope", ["read", "write"])
def test_dashboard_actions_answer_403_to_read_and_write_keys(
    client, make_api_key, redis_url, scope
):
    queue = Queue(NOTIFY_QUEUE, connection=Redis.from_url(redis_url))
    queue.enqueue("builtins.print", "x")
    key = make_api_key(scope)
    for path in POST_PATHS:
        assert_envelope(client.post(path, headers=bearer(key)), 403, "forbidden")
    assert queue.count == 1


@pytest.mark.parametrize(
    "header",
    ["Bearer klx_00000000000000000000000000000000_nope", "Bearer not-a-key", "Basic YWRtaW46eA=="],
)
def test_a_wrong_key_gets_401_and_is_never_echoed(client, header):
    response = client.get("/admin/rq/0/data/queues.json", headers={"Authorization": header})
    assert_envelope(response, 401, "unauthorized")
    assert header.split(" ", 1)[1] not in response.get_data(as_text=True)


def test_a_revoked_admin_key_gets_401(client, make_api_key, db_conn):
    key = make_api_key("admin")
    db_conn.execute("UPDATE api_keys SET revoked_at = now()")
    assert_envelope(client.get("/admin/rq/", headers=bearer(key)), 401, "unauthorized")


def test_admin_key_sees_the_dashboard_and_its_static_files(client, make_api_key):
    headers = bearer(make_api_key("admin"))
    page = client.get("/admin/rq/", headers=headers)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/admin/rq/static/css/main.css" in html
    for path in (
        "/admin/rq/static/css/main.css",
        "/admin/rq/static/js/jquery-3.5.1.min.js",
        "/admin/rq/favicon.ico",
        "/admin/rq/0/view/workers",
        "/admin/rq/0/view/jobs",
    ):
        assert client.get(path, headers=headers).status_code == 200, path
    # /admin is the web app's administration home (tests/integration/test_web_admin_pages.py):
    # a page for a signed-in admin, so a key alone is sent to the sign-in page.
    assert client.get("/admin/", headers=headers).headers["Location"].startswith("/login?next=")


def test_admin_key_lists_klaxon_queues_from_klaxons_redis(client, make_api_key, redis_url):
    connection = Redis.from_url(redis_url)
    announce_queues([Queue(name, connection=connection) for name in ALL_QUEUES])
    job = Queue(NOTIFY_QUEUE, connection=connection).enqueue("builtins.print", "page")
    headers = bearer(make_api_key("admin"))

    queues = client.get("/admin/rq/0/data/queues.json", headers=headers)
    assert queues.status_code == 200
    counts = {q["name"]: q["count"] for q in queues.get_json()["queues"]}
    assert counts == {"klaxon-notify": 1, "klaxon-default": 0}

    jobs = client.get("/admin/rq/0/data/jobs/klaxon-notify/queued/8/asc/1.json", headers=headers)
    assert [j["id"] for j in jobs.get_json()["jobs"]] == [job.id]
    one = client.get(f"/admin/rq/0/data/job/{job.id}.json", headers=headers)
    assert one.get_json()["origin"] == NOTIFY_QUEUE
    workers = client.get("/admin/rq/0/data/workers.json", headers=headers)
    assert workers.get_json() == {"workers": []}


def test_admin_key_can_act_on_jobs(client, make_api_key, redis_url):
    queue = Queue(NOTIFY_QUEUE, connection=Redis.from_url(redis_url))
    job = queue.enqueue("builtins.print", "page")
    response = client.post(f"/admin/rq/job/{job.id}/delete", headers=bearer(make_api_key()))
    assert response.get_json() == {"status": "OK"}
    assert queue.count == 0


def test_unknown_job_and_instance_are_404(client, make_api_key):
    headers = bearer(make_api_key("admin"))
    assert_envelope(client.get("/admin/rq/0/data/job/nope.json", headers=headers), 404, "not_found")
    assert_envelope(client.get("/admin/rq/1/data/queues.json", headers=headers), 404, "not_found")


def test_redis_down_is_a_prompt_503(client, make_api_key, redis_server):
    headers = bearer(make_api_key("admin"))
    redis_server.stop()
    started = time.monotonic()
    response = client.get("/admin/rq/0/data/queues.json", headers=headers)
    assert_envelope(response, 503, "unavailable")
    assert response.headers["Retry-After"]
    assert time.monotonic() - started < 5


# -- browser sessions: admin users sign in with email and password ---------------------------


@pytest.fixture
def admin_user(db_conn):
    return make_user(db_conn, "admin")


def sign_in(client, user, password: str = PASSWORD):
    return admin_sign_in(client, user["email"], password)


def csrf_of(client) -> str:
    return client.get("/api/v1/me").get_json()["csrf_token"]


def test_login_page_is_public_and_posts_email_and_password_in_a_form(client):
    page = client.get("/admin/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'method="post"' in html
    assert 'name="email"' in html and 'type="password"' in html
    assert 'name="key"' not in html  # no pasted API keys any more
    assert COOKIE not in page.headers.get("Set-Cookie", "")


def test_an_admin_user_signs_in_to_a_lax_httponly_session_cookie(client, admin_user):
    response = sign_in(client, admin_user)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/rq/")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # http://localhost in tests
    assert "Expires=" in cookie

    assert client.get("/admin/rq/").status_code == 200
    assert client.get("/admin/rq/static/css/main.css").status_code == 200
    polled = client.get("/admin/rq/0/data/queues.json")
    assert polled.status_code == 200
    assert "Set-Cookie" not in polled.headers  # the cookie is set once, at sign-in


def test_cookie_is_secure_when_the_public_url_is_https(settings_for, admin_user):
    from app import create_app

    app = create_app(settings_for(KLAXON_PUBLIC_URL="https://klaxon.example.com"))
    try:
        response = sign_in(app.test_client(), admin_user)
        assert "Secure" in response.headers["Set-Cookie"]
    finally:
        app.extensions["klaxon"].stop()


def test_a_plain_user_cannot_sign_in_to_the_admin_pages(client, db_conn):
    response = sign_in(client, make_user(db_conn, "user"))
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers
    assert_envelope(client.get("/admin/rq/0/data/queues.json"), 401, "unauthorized")


def test_a_user_signed_in_elsewhere_is_no_admin_here(client, db_conn):
    signed_in(client, make_user(db_conn, "user"))  # POST /auth/login
    assert_envelope(client.get("/admin/rq/0/data/queues.json"), 403, "forbidden")


def test_a_user_who_stops_being_admin_loses_the_dashboard_at_once(client, db_conn, admin_user):
    sign_in(client, admin_user)
    assert client.get("/admin/rq/0/data/queues.json").status_code == 200
    db_conn.execute("UPDATE users SET role = 'user' WHERE id = %s", (admin_user["id"],))
    assert_envelope(client.get("/admin/rq/0/data/queues.json"), 403, "forbidden")


@pytest.mark.parametrize(
    ("email", "password", "status"),
    [("nobody@example.com", PASSWORD, 401), (None, "wrong password", 401), ("", "", 422)],
)
def test_wrong_or_missing_credentials_cannot_sign_in(client, admin_user, email, password, status):
    response = admin_sign_in(client, admin_user["email"] if email is None else email, password)
    assert response.status_code == status
    assert "Set-Cookie" not in response.headers
    assert password not in response.get_data(as_text=True) or not password
    assert_envelope(client.get("/admin/rq/0/data/queues.json"), 401, "unauthorized")


def test_revoking_the_session_ends_it(client, db_conn, admin_user):
    sign_in(client, admin_user)
    assert client.get("/admin/rq/0/data/queues.json").status_code == 200
    db_conn.execute("UPDATE sessions SET revoked_at = now()")
    assert_envelope(client.get("/admin/rq/0/data/queues.json"), 401, "unauthorized")


def test_logout_revokes_the_session_so_the_old_cookie_no_longer_works(client, admin_user):
    sign_in(client, admin_user)
    page = client.get("/admin/login").get_data(as_text=True)
    assert 'name="csrf_token"' in page  # the sign-out form carries the session's token
    token = client.get_cookie(COOKIE).value
    csrf = csrf_of(client)
    assert_envelope(client.post("/admin/logout"), 403, "csrf_failed")
    response = client.post("/admin/logout", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert_envelope(client.get("/admin/rq/"), 401, "unauthorized")
    client.set_cookie(COOKIE, token)  # the cookie kept from before sign-out
    assert_envelope(client.get("/admin/rq/"), 401, "unauthorized")


def test_dashboard_actions_with_a_session_need_the_csrf_token(client, admin_user, redis_url):
    queue = Queue(NOTIFY_QUEUE, connection=Redis.from_url(redis_url))
    job = queue.enqueue("builtins.print", "page")
    sign_in(client, admin_user)
    page = client.get("/admin/rq/0/view/jobs")
    csrf = csrf_of(client)
    assert f'setRequestHeader("X-CSRF-Token", "{csrf}")' in page.get_data(as_text=True)
    assert_envelope(client.post(f"/admin/rq/job/{job.id}/delete"), 403, "csrf_failed")
    assert_envelope(client.get("/admin/rq/requeue/klaxon-notify"), 403, "csrf_failed")
    assert queue.count == 1
    response = client.post(f"/admin/rq/job/{job.id}/delete", headers={"X-CSRF-Token": csrf})
    assert response.get_json() == {"status": "OK"}
    assert queue.count == 0


def test_a_session_cannot_be_used_from_another_site(client, admin_user, redis_url):
    queue = Queue(NOTIFY_QUEUE, connection=Redis.from_url(redis_url))
    queue.enqueue("builtins.print", "x")
    sign_in(client, admin_user)
    csrf = csrf_of(client)
    for site in ("cross-site", "same-site"):
        headers = {"Sec-Fetch-Site": site, "X-CSRF-Token": csrf}
        response = client.get("/admin/rq/requeue/klaxon-notify", headers=headers)
        assert_envelope(response, 403, "forbidden")
        response = client.post("/admin/rq/queue/klaxon-notify/queued/empty", headers=headers)
        assert_envelope(response, 403, "forbidden")
    assert queue.count == 1
    same_origin = {"Sec-Fetch-Site": "same-origin"}
    assert client.get("/admin/rq/0/data/queues.json", headers=same_origin).status_code == 200


def test_sign_in_cannot_be_started_by_another_site(client, admin_user):
    response = admin_sign_in(
        client, admin_user["email"], PASSWORD, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers


def test_a_tampered_session_cookie_is_401(client, admin_user):
    sign_in(client, admin_user)
    cookie = client.get_cookie(COOKIE)
    client.set_cookie(COOKIE, cookie.value[:-2] + "xx")
    assert_envelope(client.get("/admin/rq/"), 401, "unauthorized")


FRAMING = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}


def assert_framing(response) -> str:
    for name, value in FRAMING.items():
        assert response.headers[name] == value, name
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "http:" not in csp and "https:" not in csp and " * " not in f" {csp} "
    return str(csp)


def test_admin_pages_send_the_action_pages_framing_and_csp(client, make_api_key):
    from app.http.page_headers import PAGE_HEADERS

    key = make_api_key("admin")
    for response in (
        client.get("/admin/login"),
        client.post("/admin/login", data={"email": "a@example.com", "password": "wrong"}),
        client.get("/admin/rq/"),  # 401 envelope
        client.get("/admin/nothing-here", headers=bearer(key)),
    ):
        assert assert_framing(response) == PAGE_HEADERS["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-store"


def test_the_dashboard_runs_only_its_own_scripts_and_is_never_framed(client, make_api_key):
    headers = bearer(make_api_key("admin"))
    page = client.get("/admin/rq/", headers=headers)
    assert page.status_code == 200
    csp = assert_framing(page)
    assert "script-src 'self' 'unsafe-inline'" in csp and "connect-src 'self'" in csp
    assert page.headers["Cache-Control"] == "no-store"
    data = client.get("/admin/rq/0/data/queues.json", headers=headers)
    assert_framing(data)
