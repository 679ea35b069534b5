"""Settings of sign-in links (lifetimes, reset limits), their tokens' shape, and the access log
hiding their tokens (README, Signing in)."""

from __future__ import annotations

import uuid

import pytest

from app.directory import signin_links
from config.gunicorn_logging import redact_path
from config.settings import ConfigError, load_settings

BASE = {
    "DATABASE_URL": "postgresql://u@127.0.0.1/db",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "KLAXON_SECRET_KEY": "s" * 40,
}


def load(**overrides: str):  # type: ignore[no-untyped-def]
    return load_settings({**BASE, **overrides})


def test_links_last_72_hours_for_invitations_and_one_hour_for_resets_by_default():
    sessions = load().sessions
    assert (sessions.invitation_ttl, sessions.password_reset_ttl) == (72 * 3600, 3600)
    sessions = load(KLAXON_INVITATION_TTL="60", KLAXON_PASSWORD_RESET_TTL="30").sessions
    assert (sessions.invitation_ttl, sessions.password_reset_ttl) == (60, 30)


def test_reset_limits_have_defaults_and_take_limits_notation():
    limits = load().limits
    assert (limits.reset_per_address, limits.reset_per_account) == ("10/hour", "3/hour")
    limits = load(
        KLAXON_LIMIT_RESET_PER_ADDRESS="5/minute", KLAXON_LIMIT_RESET_PER_ACCOUNT="1/day"
    ).limits
    assert (limits.reset_per_address, limits.reset_per_account) == ("5/minute", "1/day")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KLAXON_INVITATION_TTL", "0"),
        ("KLAXON_INVITATION_TTL", "3 days"),
        ("KLAXON_PASSWORD_RESET_TTL", str(31 * 86400)),
        ("KLAXON_LIMIT_RESET_PER_ADDRESS", "lots"),
        ("KLAXON_LIMIT_RESET_PER_ACCOUNT", "3/fortnight"),
    ],
)
def test_bad_values_name_their_variable(variable, value):
    with pytest.raises(ConfigError) as caught:
        load(**{variable: value})
    assert caught.value.variable == variable


def test_a_token_is_its_link_id_signed_for_one_purpose():
    link_id = str(uuid.uuid4())
    token = signin_links.token_for("k" * 40, "invitation", link_id)
    assert len(token) == signin_links.TOKEN_CHARS and token.isascii()
    assert token != signin_links.token_for("k" * 40, "password_reset", link_id)
    assert token != signin_links.token_for("j" * 40, "invitation", link_id)
    assert signin_links._link_id(token) == link_id
    assert signin_links._link_id(token[:-1]) is None


def test_access_lines_hide_sign_in_link_tokens():
    token = "A" * 64
    assert redact_path(f"/auth/invitation/{token}") == "/auth/invitation/<id>"
    assert redact_path(f"/auth/password-reset/{token}") == "/auth/password-reset/<id>"
    assert redact_path("/auth/password-reset") == "/auth/password-reset"
