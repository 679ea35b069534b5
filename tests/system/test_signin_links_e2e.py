"""Invitations and password resets end to end: gunicorn (`web`) and `klaxon worker` as real
processes, SMTP pointed at a local server. An admin invites a person over HTTP; the worker emails
the link; the person opens it, chooses a password and is signed in; later they reset it. Neither
process ever writes a token to its logs (gunicorn's access lines included)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from app.platform.embedded import free_port
from tests.support.e2e import Http
from tests.support.fakes.smtp import FakeSmtp
from tests.support.http import get
from tests.support.procs import KlaxonProcess
from tests.support.wait import wait_until
from tests.system.conftest import START_TIMEOUT, WEB

pytestmark = pytest.mark.system

LINK = re.compile(r"http://127\.0\.0\.1:\d+(/auth/(?:invitation|password-reset)/([\w-]+))")
EMAIL = "sam@example.com"


def mailed_link(smtp: FakeSmtp, count: int) -> tuple[str, str]:
    mail = smtp.wait_for(count, timeout=30)[count - 1]
    found = LINK.search(mail.part("text/plain"))
    assert found is not None, mail.part("text/plain")
    return found.group(1), found.group(2)


def session_cookie(headers: dict[str, str]) -> str:
    cookie = headers["set-cookie"]
    assert cookie.startswith("klaxon_session=")
    return cookie.split(";", 1)[0]


def test_an_invited_person_signs_in_and_later_resets_their_password(
    klaxon_env: dict[str, str],
    spawn: Callable[..., KlaxonProcess],
    start_worker: Callable[..., KlaxonProcess],
    make_api_key: Callable[[str], str],
    smtp_server: FakeSmtp,
) -> None:
    port = free_port()
    env = {
        **klaxon_env,
        "KLAXON_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SMTP_URL": smtp_server.url(),
        "SMTP_FROM": "Klaxon <klaxon@example.com>",
    }
    web = spawn(WEB, {**env, "PORT": str(port)}, name="web")
    wait_until(
        lambda: not web.alive() or get(port, "/livez", timeout=2).status == 200,
        START_TIMEOUT,
        "web answering /livez",
    )
    worker = start_worker(env)
    admin, anyone = Http(port, make_api_key("admin")), Http(port)

    created = admin.api("POST", "/invitations", {"email": EMAIL, "name": "Sam"}, expect=201)
    assert created["delivery"] == "queued" and created["link"] is None
    path, invitation_token = mailed_link(smtp_server, 1)
    status, page, _ = anyone.call("GET", path)
    assert status == 200 and b'type="password"' in page
    status, me, headers = anyone.call("POST", path, {"password": "first passphrase"})
    assert status == 200, me
    cookie = session_cookie(headers)
    status, me, _ = anyone.call("GET", "/api/v1/me", headers={"Cookie": cookie})
    assert status == 200 and me["user"]["email"] == EMAIL
    status, _, _ = anyone.call("POST", path, {"password": "second passphrase"})
    assert status == 410

    status, answer, _ = anyone.call("POST", "/auth/password-reset", {"email": EMAIL})
    assert status == 202, answer
    path, reset_token = mailed_link(smtp_server, 2)
    status, _, headers = anyone.call("POST", path, {"password": "second passphrase"})
    assert status == 200
    status, _, _ = anyone.call("GET", "/api/v1/me", headers={"Cookie": cookie})
    assert status == 401  # the reset ended the earlier session
    status, _, _ = anyone.call("GET", "/api/v1/me", headers={"Cookie": session_cookie(headers)})
    assert status == 200

    wait_until(lambda: worker.find_event("signin_link_emailed") is not None, 10, "worker log")
    logs = web.stderr() + worker.stderr()
    assert "/auth/invitation/<id>" in logs  # gunicorn's access line, redacted
    for token in (invitation_token, reset_token):
        assert token not in logs
