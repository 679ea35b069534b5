"""OpenID Connect's pure rules: its settings, the groups claim and where a sign-in may lead."""

from __future__ import annotations

import pytest

from app.directory.oidc.groups import BadGroupsClaim, groups_in, role_for, team_roles
from app.http.oidc import safe_next
from config.settings import ConfigError, OidcTeamGroup, load_settings

BASE = {
    "DATABASE_URL": "postgres://klaxon@db.example/klaxon",
    "REDIS_URL": "redis://cache.example:6379/0",
    "KLAXON_SECRET_KEY": "k" * 40,
}
ISSUER = {"KLAXON_OIDC_ISSUER": "https://idp.example/realms/ops", "KLAXON_OIDC_CLIENT_ID": "kx"}


def oidc(**env: str):
    return load_settings({**BASE, **env}).oidc


def test_without_an_issuer_oidc_is_off() -> None:
    assert oidc() is None


def test_an_issuer_and_client_id_turn_it_on_with_defaults() -> None:
    found = oidc(**ISSUER)
    assert found is not None
    assert found.issuer == "https://idp.example/realms/ops"
    assert found.client_secret is None  # a public client, PKCE only
    assert found.name == "idp.example"
    assert found.scopes == "openid email profile"
    assert found.allowed_domains == () and found.groups_claim is None
    assert found.timeout == 10.0
    assert "kx" not in repr(found.client_secret)


def test_lists_are_parsed_strictly() -> None:
    found = oidc(
        **ISSUER,
        KLAXON_OIDC_CLIENT_SECRET="s3cret",
        KLAXON_OIDC_NAME="Keycloak",
        KLAXON_OIDC_ALLOWED_DOMAINS=" Example.COM, @example.org ,",
        KLAXON_OIDC_GROUPS_CLAIM="realm_access.roles",
        KLAXON_OIDC_ADMIN_GROUPS="klaxon-admins, sre",
        KLAXON_OIDC_TEAM_GROUPS="oncall-db=Databases,oncall-db-leads=Databases:manager,x=A:b",
        KLAXON_OIDC_SCOPES="openid email groups",
        KLAXON_OIDC_TIMEOUT="3",
    )
    assert found is not None
    assert "s3cret" not in repr(found)
    assert found.name == "Keycloak"
    assert found.allowed_domains == ("example.com", "example.org")
    assert found.admin_groups == ("klaxon-admins", "sre")
    assert found.team_groups == (
        OidcTeamGroup("oncall-db", "Databases", "member"),
        OidcTeamGroup("oncall-db-leads", "Databases", "manager"),
        OidcTeamGroup("x", "A:b", "member"),  # a colon that names no role is the team's
    )
    assert found.scopes == "openid email groups" and found.timeout == 3.0


@pytest.mark.parametrize(
    ("env", "starts"),
    [
        (
            {"KLAXON_OIDC_CLIENT_ID": "kx"},
            "KLAXON_OIDC_ISSUER: is not set, but KLAXON_OIDC_CLIENT_ID",
        ),
        (
            {"KLAXON_OIDC_ADMIN_GROUPS": "a"},
            "KLAXON_OIDC_ISSUER: is not set, but KLAXON_OIDC_ADMIN",
        ),
        ({"KLAXON_OIDC_ISSUER": "https://idp.example"}, "KLAXON_OIDC_CLIENT_ID: is not set"),
        ({**ISSUER, "KLAXON_OIDC_ISSUER": "http://idp.example"}, "KLAXON_OIDC_ISSUER: is http://"),
        ({**ISSUER, "KLAXON_OIDC_ISSUER": "ftp://idp.example"}, "KLAXON_OIDC_ISSUER: has scheme"),
        ({**ISSUER, "KLAXON_OIDC_ISSUER": "https://idp.example/?x=1"}, "KLAXON_OIDC_ISSUER: has a"),
        ({**ISSUER, "KLAXON_OIDC_ADMIN_GROUPS": "a"}, "KLAXON_OIDC_ADMIN_GROUPS: is set without"),
        ({**ISSUER, "KLAXON_OIDC_TEAM_GROUPS": "a=B"}, "KLAXON_OIDC_TEAM_GROUPS: is set without"),
        (
            {**ISSUER, "KLAXON_OIDC_GROUPS_CLAIM": "g", "KLAXON_OIDC_TEAM_GROUPS": "nogroup"},
            "KLAXON_OIDC_TEAM_GROUPS: 'nogroup' is not understood",
        ),
        ({**ISSUER, "KLAXON_OIDC_GROUPS_CLAIM": "a..b"}, "KLAXON_OIDC_GROUPS_CLAIM: 'a..b'"),
        ({**ISSUER, "KLAXON_OIDC_ALLOWED_DOMAINS": "not a domain"}, "KLAXON_OIDC_ALLOWED_DOMAINS"),
        ({**ISSUER, "KLAXON_OIDC_SCOPES": "email profile"}, "KLAXON_OIDC_SCOPES"),
        ({**ISSUER, "KLAXON_OIDC_TIMEOUT": "0"}, "KLAXON_OIDC_TIMEOUT: '0' is out of range"),
    ],
)
def test_partial_or_bad_settings_name_the_variable(env: dict[str, str], starts: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({**BASE, **env})
    assert str(refused.value).startswith(starts), str(refused.value)


def test_localhost_issuers_may_be_http() -> None:
    for host in ("localhost:8080", "127.0.0.1:9000", "[::1]:9000"):
        found = oidc(**{**ISSUER, "KLAXON_OIDC_ISSUER": f"http://{host}/realms/x"})
        assert found is not None


def test_the_groups_claim_is_read_as_a_list_a_string_or_nothing() -> None:
    claims = {"groups": ["a", "b"], "one": "solo", "realm_access": {"roles": ["r"]}}
    assert groups_in(claims, "groups") == {"a", "b"}
    assert groups_in(claims, "one") == {"solo"}
    assert groups_in(claims, "realm_access.roles") == {"r"}
    assert groups_in(claims, "missing") == frozenset()
    assert groups_in(claims, "groups.deeper") == frozenset()
    for bad in ({"x": 1}, [1, 2], ["ok", ""], ["g"] * 1001, 7):
        with pytest.raises(BadGroupsClaim):
            groups_in({"groups": bad}, "groups")


MAPPING = (
    OidcTeamGroup("db", "Databases", "member"),
    OidcTeamGroup("db-leads", "Databases", "manager"),
    OidcTeamGroup("web", "Web", "member"),
)


def test_each_mapped_team_gets_the_highest_role_any_group_gives() -> None:
    assert team_roles(frozenset({"db", "db-leads"}), MAPPING) == {
        "databases": "manager", "web": None
    }  # fmt: skip
    assert team_roles(frozenset({"db-leads"}), reversed(MAPPING)) == {
        "databases": "manager", "web": None
    }  # fmt: skip
    assert team_roles(frozenset({"web", "other"}), MAPPING) == {"databases": None, "web": "member"}
    assert team_roles(frozenset(), ()) == {}


def test_admin_follows_the_admin_groups_only_when_they_are_configured() -> None:
    assert role_for(frozenset({"sre"}), ("sre",), "user") == "admin"
    assert role_for(frozenset({"dev"}), ("sre",), "admin") == "user"
    assert role_for(frozenset(), (), "admin") == "admin"
    assert role_for(frozenset({"sre"}), (), "user") == "user"


@pytest.mark.parametrize(
    ("asked", "goes"),
    [
        (None, "/admin/login"),
        ("/admin/rq/", "/admin/rq/"),
        ("/x?y=1", "/x?y=1"),
        ("https://evil.example/", "/admin/login"),
        ("//evil.example/", "/admin/login"),
        ("/\\evil.example", "/admin/login"),
        ("javascript:alert(1)", "/admin/login"),
        ("/a\nb", "/admin/login"),
        ("/" + "a" * 600, "/admin/login"),
    ],
)
def test_after_sign_in_only_a_local_path_is_followed(asked: str | None, goes: str) -> None:
    assert safe_next(asked) == goes


def provider(**env: str):
    from app.directory.oidc.provider import Provider

    found = oidc(**{**ISSUER, "KLAXON_OIDC_CLIENT_SECRET": "s", **env})
    assert found is not None
    return Provider(found)


def discovery(**changes: object) -> dict[str, object]:
    base = "https://idp.example/realms/ops"
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/auth",
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/certs",
        **changes,
    }


def test_a_checked_discovery_document_gives_the_endpoints() -> None:
    meta = provider()._parse_metadata(discovery())
    assert meta.token_endpoint == "https://idp.example/realms/ops/token"
    assert meta.client_auth == "client_secret_basic"  # the default when none are listed
    listed = discovery(token_endpoint_auth_methods_supported=["client_secret_post"])
    assert provider()._parse_metadata(listed).client_auth == "client_secret_post"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"issuer": "https://idp.example/realms/other"}, "names issuer"),
        ({"token_endpoint": "http://idp.example/token"}, "no usable token_endpoint"),
        ({"jwks_uri": None}, "no usable jwks_uri"),
        ({"authorization_endpoint": "javascript:alert(1)"}, "no usable authorization_endpoint"),
        ({"code_challenge_methods_supported": ["plain"]}, "does not support PKCE with S256"),
        ({"token_endpoint_auth_methods_supported": ["tls_client_auth"]}, "no client auth"),
    ],
)
def test_a_discovery_document_klaxon_cannot_use_is_refused(changes, words) -> None:
    from app.directory.oidc.errors import ProviderFailed

    with pytest.raises(ProviderFailed, match=words):
        provider()._parse_metadata(discovery(**changes))
