"""Signing in with OpenID Connect against a real identity provider on loopback (README, Signing
in with OpenID Connect): PKCE, state and nonce, ID token checks, first sign-in rules, group
mapping, sign-in limits, and a provider that is down or never answers."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
import urllib3
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app.http.oidc import ATTEMPT_COOKIE, ATTEMPT_SALT
from app.http.session_cookie import COOKIE
from config.settings import Settings
from tests.conftest import SECRET_KEY
from tests.support.fakes.oidc_idp import CLIENT_ID, CLIENT_SECRET, FakeIdp, s256
from tests.support.fakes.recording import Answer
from tests.support.net import Tarpit, closed_port
from tests.support.signin import make_user

ME = "/api/v1/me"
TIMEOUT = 1.0  # KLAXON_OIDC_TIMEOUT in these tests
# A bound a hung provider must not push a request past: the timeout plus generous slack for a
# loaded 2-core machine, far below "a hang" (gunicorn's own limit is 30 s).
BOUND = TIMEOUT + 2.0


@pytest.fixture
def idp() -> Iterator[FakeIdp]:
    server = FakeIdp().start()
    yield server
    server.stop()


@pytest.fixture
def app_for(settings_for: Callable[..., Settings]) -> Iterator[Callable[..., Any]]:
    """app_for(issuer, **settings) -> a Klaxon app with OpenID Connect sign-in at `issuer`."""
    from app import create_app

    built: list[Any] = []

    def build(issuer: str, **overrides: str) -> Any:
        env = {
            "KLAXON_OIDC_ISSUER": issuer,
            "KLAXON_OIDC_CLIENT_ID": CLIENT_ID,
            "KLAXON_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "KLAXON_OIDC_ALLOWED_DOMAINS": "example.com",
            "KLAXON_OIDC_TIMEOUT": str(TIMEOUT),
            **overrides,
        }
        app = create_app(settings_for(**env))
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions["klaxon"].stop()


@pytest.fixture
def client(app_for: Callable[..., Any], idp: FakeIdp) -> Any:
    return app_for(idp.issuer).test_client()


def start(client: Any, next_path: str | None = None) -> str:
    """GET /auth/oidc/start; the provider URL the browser is sent to."""
    query = f"?{urlencode({'next': next_path})}" if next_path else ""
    response = client.get(f"/auth/oidc/start{query}")
    assert response.status_code == 302, response.get_data(as_text=True)
    return str(response.headers["Location"])


def at_provider(url: str) -> str:
    """The browser at the provider (real HTTP): the callback URL it is sent back to."""
    answer = urllib3.request("GET", url, redirect=False, timeout=5)
    assert answer.status == 302, answer.data
    return str(answer.headers["Location"])


def back_at_klaxon(client: Any, callback_url: str) -> Any:
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


def sign_in(client: Any, tamper: Callable[[str], str] = lambda url: url) -> Any:
    """The whole round trip; `tamper` may change the provider URL before the browser goes."""
    return back_at_klaxon(client, at_provider(tamper(start(client))))


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def assert_signed_in(response: Any, client: Any, email: str) -> dict[str, Any]:
    assert response.status_code == 303, response.get_data(as_text=True)
    me = client.get(ME)
    assert me.status_code == 200, me.get_json()
    body: dict[str, Any] = me.get_json()
    assert body["kind"] == "user"
    assert body["user"]["email"].lower() == email.lower()
    return body


def assert_refused(response: Any, client: Any, status: int, words: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    assert words.lower() in page.lower(), page
    assert response.content_type.startswith("text/html")
    assert client.get_cookie(COOKIE) is None
    assert client.get(ME).status_code == 401


def users_with(db_conn: psycopg.Connection[Any], email: str) -> list[dict[str, Any]]:
    return db_conn.execute(
        "SELECT id::text AS id, name, email, role FROM users WHERE lower(email) = lower(%s)",
        (email,),
    ).fetchall()


def make_team(db_conn: psycopg.Connection[Any], name: str) -> str:
    row = db_conn.execute("INSERT INTO teams (name) VALUES (%s) RETURNING id::text", (name,))
    return str(row.fetchone()["id"])


def memberships(db_conn: psycopg.Connection[Any], user_id: str) -> dict[str, str]:
    rows = db_conn.execute(
        "SELECT t.name, m.role FROM team_members m JOIN teams t ON t.id = m.team_id "
        "WHERE m.user_id = %s",
        (user_id,),
    ).fetchall()
    return {row["name"]: row["role"] for row in rows}


# ---- success ---------------------------------------------------------------------------------


def test_first_sign_in_creates_the_user_and_the_session_works_on_me(client, idp, db_conn) -> None:
    provider_url = start(client)
    asked = {k: v[-1] for k, v in parse_qs(urlsplit(provider_url).query).items()}
    assert asked["response_type"] == "code"
    assert asked["client_id"] == CLIENT_ID
    assert asked["code_challenge_method"] == "S256"
    assert asked["redirect_uri"].endswith("/auth/oidc/callback")
    assert len(asked["state"]) >= 32 and len(asked["nonce"]) >= 32
    assert set(asked["scope"].split()) == {"openid", "email", "profile"}
    attempt = client.get_cookie(ATTEMPT_COOKIE, path="/auth/oidc")
    assert attempt is not None and attempt.http_only and attempt.same_site == "Lax"
    assert attempt.path == "/auth/oidc" and attempt.expires is not None

    response = back_at_klaxon(client, at_provider(provider_url))

    body = assert_signed_in(response, client, "ada@example.com")
    assert response.headers["Location"] == "/admin/login"
    assert body["user"]["name"] == "Ada Lovelace" and body["user"]["role"] == "user"
    assert client.get_cookie(ATTEMPT_COOKIE, path="/auth/oidc") is None  # used once, then gone
    assert idp.token_errors == []
    token_request = idp.requests("/token")[0].form()
    assert s256(token_request["code_verifier"]) == asked["code_challenge"]
    linked = db_conn.execute(
        "SELECT issuer, subject, user_id::text FROM oidc_identities"
    ).fetchall()
    assert linked == [
        {"issuer": idp.issuer, "subject": idp.account.sub, "user_id": body["user"]["id"]}
    ]
    audit = db_conn.execute(
        "SELECT actor_type, actor_id, action, target_type, target_id::text FROM audit_events"
    ).fetchall()
    assert audit == [{
        "actor_type": "system", "actor_id": f"oidc {idp.issuer}", "action": "oidc_sign_in",
        "target_type": "users", "target_id": body["user"]["id"],
    }]  # fmt: skip
    csrf = body["csrf_token"]  # the same session as a password sign-in: CSRF and all
    assert client.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get(ME).status_code == 401


def test_the_next_sign_in_finds_the_user_by_subject_not_email(client, idp, db_conn) -> None:
    first = assert_signed_in(sign_in(client), client, "ada@example.com")
    idp.account.email = "ada.lovelace@example.com"  # changed at the provider
    client.delete_cookie(COOKIE)

    again = assert_signed_in(sign_in(client), client, "ada@example.com")

    assert again["user"]["id"] == first["user"]["id"]
    assert users_with(db_conn, "ada.lovelace@example.com") == []


def test_an_existing_user_with_the_verified_email_is_linked(client, idp, db_conn) -> None:
    existing = make_user(db_conn, email="Ada@Example.com")
    idp.account.email = "ada@example.com"

    body = assert_signed_in(sign_in(client), client, "ada@example.com")

    assert body["user"]["id"] == existing["id"]
    assert len(users_with(db_conn, "ada@example.com")) == 1


def test_linking_needs_no_allowed_domain(app_for, idp, db_conn) -> None:
    existing = make_user(db_conn, email="grace@elsewhere.org")
    idp.account.email = "grace@elsewhere.org"
    client = app_for(idp.issuer, KLAXON_OIDC_ALLOWED_DOMAINS="").test_client()

    assert (
        assert_signed_in(sign_in(client), client, existing["email"])["user"]["id"]
        == (existing["id"])
    )


def test_next_takes_a_local_path_only(client, idp) -> None:
    provider_url = start(client, "/admin/rq/")
    assert back_at_klaxon(client, at_provider(provider_url)).headers["Location"] == "/admin/rq/"
    for elsewhere in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        client.delete_cookie(COOKIE)
        assert (
            back_at_klaxon(client, at_provider(start(client, elsewhere))).headers["Location"]
            == "/admin/login"
        )


def test_the_sign_in_page_offers_the_provider(app_for, idp, client) -> None:
    page = client.get("/admin/login").get_data(as_text=True)
    assert "Sign in with 127.0.0.1" in page and "/auth/oidc/start" in page
    named = app_for(idp.issuer, KLAXON_OIDC_NAME="Example SSO").test_client()
    assert "Sign in with Example SSO" in named.get("/admin/login").get_data(as_text=True)


def test_without_oidc_settings_the_routes_are_404_and_the_page_has_no_button(
    web_app: Any,
) -> None:
    client = web_app.test_client()
    assert client.get("/auth/oidc/start").status_code == 404
    assert client.get("/auth/oidc/callback?state=x&code=y").status_code == 404
    assert "Sign in with" not in client.get("/admin/login").get_data(as_text=True)


@pytest.mark.parametrize("method", ["client_secret_post", "none"])
def test_the_client_authenticates_as_discovery_says(app_for, idp, method) -> None:
    idp.client_auth = method
    secret = {"KLAXON_OIDC_CLIENT_SECRET": ""} if method == "none" else {}
    client = app_for(idp.issuer, **secret).test_client()

    assert_signed_in(sign_in(client), client, "ada@example.com")
    form = idp.requests("/token")[0].form()
    assert form["client_id"] == CLIENT_ID
    assert form.get("client_secret") == (CLIENT_SECRET if method != "none" else None)
    assert "authorization" not in idp.requests("/token")[0].headers


def test_a_provider_taking_no_secret_way_klaxon_speaks_is_a_502(app_for, idp) -> None:
    idp.client_auth = "private_key_jwt"  # Klaxon has a secret, and no way to send it
    client = app_for(idp.issuer).test_client()

    response = client.get("/auth/oidc/start")

    assert_refused(response, client, 502, "no client authentication Klaxon speaks")


# ---- state, nonce, PKCE and the ID token -----------------------------------------------------


def test_a_wrong_state_is_refused_before_the_provider_is_asked(client, idp, db_conn) -> None:
    callback = at_provider(start(client))

    response = back_at_klaxon(client, with_query(callback, state="not-the-state"))

    assert_refused(response, client, 400, "does not belong to the sign-in you started")
    assert idp.requests("/token") == []
    assert users_with(db_conn, "ada@example.com") == []


def test_a_callback_without_the_attempt_cookie_is_refused(client, idp, app_for) -> None:
    callback = at_provider(start(client))
    other_browser = app_for(idp.issuer).test_client()

    assert_refused(back_at_klaxon(other_browser, callback), other_browser, 400, "no sign-in")
    assert idp.requests("/token") == []


def test_an_attempt_cookie_not_signed_by_klaxon_is_refused(client, idp) -> None:
    callback = at_provider(start(client))
    client.set_cookie(ATTEMPT_COOKIE, "forged.value.here", path="/auth/oidc")

    assert_refused(back_at_klaxon(client, callback), client, 400, "not one Klaxon made")


def test_a_wrong_nonce_is_refused(client, idp, db_conn) -> None:
    idp.tweak.nonce = "someone-elses-nonce"

    assert_refused(sign_in(client), client, 401, "failed a check (nonce)")
    assert users_with(db_conn, "ada@example.com") == []


def test_an_expired_id_token_is_refused(client, idp, db_conn) -> None:
    idp.tweak.expires_in = -3600

    assert_refused(sign_in(client), client, 401, "ID token has expired")
    assert users_with(db_conn, "ada@example.com") == []


@pytest.mark.parametrize(
    ("tweak", "words"),
    [
        ({"audience": "another-client"}, "failed a check (aud)"),
        ({"issuer": "https://impostor.example"}, "failed a check (iss)"),
        ({"foreign_key": True}, "not validly signed"),
    ],
)
def test_an_id_token_for_someone_else_or_badly_signed_is_refused(
    client, idp, db_conn, tweak, words
) -> None:
    for name, value in tweak.items():
        setattr(idp.tweak, name, value)

    assert_refused(sign_in(client), client, 401, words)
    assert users_with(db_conn, "ada@example.com") == []


def test_a_code_redeemed_with_another_verifier_is_refused(client, idp, db_conn) -> None:
    # An attacker who swapped in their own PKCE challenge: the provider refuses Klaxon's verifier.
    other = s256(secrets.token_urlsafe(48))

    response = sign_in(client, tamper=lambda url: with_query(url, code_challenge=other))

    assert_refused(response, client, 401, "refused the sign-in (invalid_grant)")
    assert idp.token_errors == ["invalid_grant"]
    assert users_with(db_conn, "ada@example.com") == []


def test_a_code_works_once(client, idp) -> None:
    callback = at_provider(start(client))
    assert_signed_in(back_at_klaxon(client, callback), client, "ada@example.com")
    client.delete_cookie(COOKIE)
    used = parse_qs(urlsplit(callback).query)["code"][0]
    # A new attempt of this browser (its state matches), carrying the code already redeemed.
    replay = with_query(at_provider(start(client)), code=used)

    assert_refused(back_at_klaxon(client, replay), client, 401, "invalid_grant")


def test_an_attempt_older_than_ten_minutes_is_refused(client, idp) -> None:
    callback = at_provider(start(client))
    kept = client.get_cookie(ATTEMPT_COOKIE, path="/auth/oidc").value
    attempt = URLSafeTimedSerializer(SECRET_KEY, salt=ATTEMPT_SALT).loads(kept)

    class ElevenMinutesAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 660

    stale = URLSafeTimedSerializer(SECRET_KEY, salt=ATTEMPT_SALT, signer=ElevenMinutesAgo).dumps(
        attempt
    )
    client.set_cookie(ATTEMPT_COOKIE, stale, path="/auth/oidc")

    assert_refused(back_at_klaxon(client, callback), client, 400, "more than 10 minutes")
    assert idp.requests("/token") == []


def test_the_provider_saying_no_is_shown(client, idp) -> None:
    callback = at_provider(start(client))
    state = parse_qs(urlsplit(callback).query)["state"][0]
    refused = f"{urlsplit(callback).path}?{urlencode({'error': 'access_denied', 'state': state})}"

    assert_refused(client.get(refused), client, 401, "did not sign you in (access_denied)")


# ---- who may sign in -------------------------------------------------------------------------


@pytest.mark.parametrize("verified", [False, "false", None])
def test_an_unverified_email_neither_creates_nor_links(client, idp, db_conn, verified) -> None:
    make_user(db_conn, email="victim@example.com")
    idp.account.email = "victim@example.com"
    idp.account.email_verified = verified

    assert_refused(sign_in(client), client, 403, "did not vouch for your email")
    assert db_conn.execute("SELECT count(*) AS n FROM oidc_identities").fetchone()["n"] == 0


def test_a_domain_not_allowed_creates_no_user(client, idp, db_conn) -> None:
    idp.account.email = "mallory@elsewhere.org"

    assert_refused(sign_in(client), client, 403, "does not create accounts for elsewhere.org")
    assert users_with(db_conn, "mallory@elsewhere.org") == []


def test_a_disabled_user_is_refused(client, idp, db_conn) -> None:
    user = assert_signed_in(sign_in(client), client, "ada@example.com")["user"]
    db_conn.execute("UPDATE users SET disabled_at = now() WHERE id = %s", (user["id"],))
    client.delete_cookie(COOKIE)

    assert_refused(sign_in(client), client, 403, "account is disabled")


def test_callbacks_count_against_the_sign_in_limits(app_for, idp) -> None:
    client = app_for(idp.issuer, KLAXON_LIMIT_SIGNIN_PER_ADDRESS="2/minute").test_client()
    for _ in range(2):
        assert sign_in(client).status_code == 303
        client.delete_cookie(COOKIE)

    response = sign_in(client)

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert len(idp.requests("/token")) == 2  # refused before the provider was asked


# ---- groups ----------------------------------------------------------------------------------

GROUPS = {
    "KLAXON_OIDC_GROUPS_CLAIM": "groups",
    "KLAXON_OIDC_ADMIN_GROUPS": "klaxon-admins",
    "KLAXON_OIDC_TEAM_GROUPS": "oncall-db=Databases,oncall-db-leads=Databases:manager,web=Web",
}


def test_groups_set_mapped_teams_and_the_admin_role_on_every_sign_in(app_for, idp, db_conn) -> None:
    make_team(db_conn, "Databases")
    make_team(db_conn, "Web")
    payments = make_team(db_conn, "Payments")  # not mapped: left alone
    client = app_for(idp.issuer, **GROUPS).test_client()

    idp.account.groups = ["oncall-db", "oncall-db-leads", "klaxon-admins", "unrelated"]
    user = assert_signed_in(sign_in(client), client, "ada@example.com")["user"]
    assert user["role"] == "admin"
    assert memberships(db_conn, user["id"]) == {"Databases": "manager"}
    db_conn.execute(
        "INSERT INTO team_members (team_id, user_id, role) VALUES (%s, %s, 'member')",
        (payments, user["id"]),
    )

    idp.account.groups = ["oncall-db", "web"]
    client.delete_cookie(COOKIE)
    again = assert_signed_in(sign_in(client), client, "ada@example.com")["user"]
    assert again["role"] == "user"
    assert memberships(db_conn, user["id"]) == {
        "Databases": "member", "Web": "member", "Payments": "member"
    }  # fmt: skip

    idp.account.groups = None  # the claim is gone: no groups at all
    client.delete_cookie(COOKIE)
    assert_signed_in(sign_in(client), client, "ada@example.com")
    assert memberships(db_conn, user["id"]) == {"Payments": "member"}


def test_a_mapped_team_that_does_not_exist_is_skipped(app_for, idp, db_conn) -> None:
    make_team(db_conn, "Web")
    client = app_for(idp.issuer, **GROUPS).test_client()
    idp.account.groups = ["oncall-db", "web"]

    user = assert_signed_in(sign_in(client), client, "ada@example.com")["user"]

    assert memberships(db_conn, user["id"]) == {"Web": "member"}


def test_without_admin_groups_the_role_is_left_alone(app_for, idp, db_conn) -> None:
    admin = make_user(db_conn, "admin", email="ada@example.com")
    client = app_for(
        idp.issuer, KLAXON_OIDC_GROUPS_CLAIM="groups", KLAXON_OIDC_TEAM_GROUPS="web=Web"
    ).test_client()
    idp.account.groups = []

    assert assert_signed_in(sign_in(client), client, admin["email"])["user"]["role"] == "admin"


def test_a_groups_claim_that_is_not_a_list_of_names_stops_the_sign_in(
    app_for, idp, db_conn
) -> None:
    client = app_for(idp.issuer, **GROUPS).test_client()
    idp.account.claims = {"groups": {"not": "a list"}}

    assert_refused(sign_in(client), client, 502, "is not a list of group names")
    assert users_with(db_conn, "ada@example.com") == []


# ---- a provider that is down, hangs, or answers nonsense -------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = fn()
    return result, time.monotonic() - started


def test_a_provider_that_is_down_is_a_502_at_once(app_for) -> None:
    client = app_for(f"http://127.0.0.1:{closed_port()}").test_client()

    response, seconds = timed(lambda: client.get("/auth/oidc/start"))

    assert_refused(response, client, 502, "cannot reach the identity provider")
    assert seconds < BOUND


def test_a_provider_that_never_answers_is_a_504_within_the_timeout(app_for) -> None:
    with Tarpit() as tarpit:
        client = app_for(f"http://127.0.0.1:{tarpit.port}").test_client()

        response, seconds = timed(lambda: client.get("/auth/oidc/start"))

    assert_refused(response, client, 504, "did not answer in time")
    assert TIMEOUT * 0.9 <= seconds < BOUND


def test_a_token_endpoint_that_never_answers_is_a_504_within_the_timeout(client, idp) -> None:
    with Tarpit() as tarpit:
        idp.token_endpoint = f"http://127.0.0.1:{tarpit.port}/token"
        callback = at_provider(start(client))

        response, seconds = timed(lambda: back_at_klaxon(client, callback))

    assert_refused(response, client, 504, "did not answer in time (token)")
    assert seconds < BOUND


def test_a_provider_that_hangs_on_some_requests_is_bounded_too(client, idp) -> None:
    idp.failure = Answer(0, b"", hang=True)

    response, seconds = timed(lambda: client.get("/auth/oidc/start"))

    assert_refused(response, client, 504, "did not answer in time (discovery)")
    assert seconds < BOUND


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (Answer(500, {"error": "oops"}), "discovery answered HTTP 500"),
        (Answer(200, b"<html>not json</html>"), "is not JSON"),
        (Answer(200, {"issuer": "https://impostor.example"}), "names issuer"),
    ],
)
def test_a_provider_answering_nonsense_is_a_502(client, idp, answer, words) -> None:
    idp.failure = answer

    assert_refused(client.get("/auth/oidc/start"), client, 502, words)


def test_an_unsigned_or_hmac_id_token_is_refused(client, idp, monkeypatch) -> None:
    from joserfc import jwt
    from joserfc.jwk import OctKey

    def hmac_token(grant: Any) -> str:
        claims = {"iss": idp.issuer, "sub": "x", "aud": CLIENT_ID, "iat": int(time.time()),
                  "exp": int(time.time()) + 300, "nonce": grant.nonce}  # fmt: skip
        return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(CLIENT_SECRET))

    monkeypatch.setattr(idp, "id_token", hmac_token)

    assert_refused(sign_in(client), client, 401, "not validly signed")


def test_a_new_signing_key_is_fetched_when_the_provider_rotates(client, idp) -> None:
    assert_signed_in(sign_in(client), client, "ada@example.com")
    client.delete_cookie(COOKIE)
    from joserfc.jwk import RSAKey

    idp.key = RSAKey.generate_key(2048, parameters={"kid": "idp-key-2"})
    idp.other_key = idp.key

    original = idp.id_token

    def rotated(grant: Any) -> str:
        from joserfc import jwt

        token = jwt.decode(original(grant), idp.key)
        return jwt.encode({"alg": "RS256", "kid": "idp-key-2"}, token.claims, idp.key)

    idp.id_token = rotated  # type: ignore[method-assign]

    assert_signed_in(sign_in(client), client, "ada@example.com")
    assert len(idp.requests("/jwks")) == 2


def test_the_sign_in_page_then_says_who_signed_in(app_for, idp, db_conn) -> None:
    client = app_for(idp.issuer, **GROUPS).test_client()
    idp.account.groups = []
    assert_signed_in(sign_in(client), client, "ada@example.com")
    page = client.get("/admin/login").get_data(as_text=True)
    assert "signed in as ada@example.com" in page and "Open the dashboard" not in page

    idp.account.groups = ["klaxon-admins"]
    client.delete_cookie(COOKIE)
    assert_signed_in(sign_in(client), client, "ada@example.com")
    assert "Open the dashboard" in client.get("/admin/login").get_data(as_text=True)
    assert client.get("/admin/rq/").status_code == 200
