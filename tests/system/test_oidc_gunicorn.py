"""OpenID Connect sign-in through real gunicorn, a real browser's round trip done by hand: the
cookie the callback sets works on /api/v1, no token or code reaches the logs, and a provider
that never answers costs a bounded 504 (README, Signing in with OpenID Connect)."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import pytest
import urllib3

from tests.support.fakes.oidc_idp import CLIENT_ID, CLIENT_SECRET, FakeIdp
from tests.support.net import Tarpit
from tests.support.procs import KlaxonProcess

pytestmark = pytest.mark.system

TIMEOUT = 1.0  # KLAXON_OIDC_TIMEOUT
BOUND = TIMEOUT + 3.0  # a hung provider must not hold a request longer than this


@pytest.fixture
def idp() -> Iterator[FakeIdp]:
    server = FakeIdp().start()
    yield server
    server.stop()


class Browser:
    """Just enough of a browser: one cookie jar, no automatic redirects."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def get(self, path: str) -> tuple[int, dict[str, str], bytes, float]:
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            jar = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            conn.request("GET", path, headers={"Cookie": jar} if jar else {})
            response = conn.getresponse()
            body = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            headers = {k.lower(): v for k, v in response.getheaders()}
        finally:
            conn.close()
        return response.status, headers, body, time.monotonic() - started


def oidc_env(env: dict[str, str], issuer: str) -> dict[str, str]:
    return {
        **env,
        "KLAXON_OIDC_ISSUER": issuer,
        "KLAXON_OIDC_CLIENT_ID": CLIENT_ID,
        "KLAXON_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "KLAXON_OIDC_ALLOWED_DOMAINS": "example.com",
        "KLAXON_OIDC_TIMEOUT": str(TIMEOUT),
    }


def round_trip(browser: Browser) -> tuple[int, dict[str, str], bytes, float]:
    status, headers, _, _ = browser.get("/auth/oidc/start")
    assert status == 302
    at_idp = urllib3.request("GET", headers["location"], redirect=False, timeout=5)
    assert at_idp.status == 302
    back = urlsplit(at_idp.headers["Location"])
    return browser.get(f"{back.path}?{back.query}")


def test_signing_in_through_gunicorn_gives_a_working_session(
    klaxon_env: dict[str, str],
    idp: FakeIdp,
    start_web: Callable[..., tuple[KlaxonProcess, int]],
) -> None:
    web, port = start_web(oidc_env(klaxon_env, idp.issuer))
    browser = Browser(port)

    status, headers, _, _ = round_trip(browser)

    assert status == 303 and headers["location"] == "/admin/login"
    assert "klaxon_session" in browser.cookies and "klaxon_oidc" not in browser.cookies
    status, _, body, _ = browser.get("/api/v1/me")
    assert status == 200 and json.loads(body)["user"]["email"] == "ada@example.com"
    token = idp.requests("/token")[0].form()
    logs = web.stderr()
    assert web.find_event("signed_in", via="oidc")
    for secret in (token["code"], token["code_verifier"], CLIENT_SECRET):
        assert secret not in logs


def test_a_token_endpoint_that_never_answers_is_a_bounded_504(
    klaxon_env: dict[str, str],
    idp: FakeIdp,
    start_web: Callable[..., tuple[KlaxonProcess, int]],
) -> None:
    with Tarpit() as tarpit:
        idp.token_endpoint = f"http://127.0.0.1:{tarpit.port}/token"
        _, port = start_web(oidc_env(klaxon_env, idp.issuer))
        browser = Browser(port)

        status, _, body, seconds = round_trip(browser)

    assert status == 504, body
    assert b"did not answer in time" in body
    assert seconds < BOUND
    assert "klaxon_session" not in browser.cookies
