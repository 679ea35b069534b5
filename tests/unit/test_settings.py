"""Settings parsing: strict, one place, and every error names the variable and the form."""

from __future__ import annotations

import pytest

from config.settings import ConfigError, load_settings, redact_url

BASE = {
    "DATABASE_URL": "postgres://klaxon:s3cret@db.example:5432/klaxon",
    "REDIS_URL": "redis://cache.example:6379/0",
    "KLAXON_SECRET_KEY": "k" * 40,
}


def load(**overrides: str):
    env = {**BASE, **overrides}
    return load_settings({k: v for k, v in env.items() if v is not None})


def test_defaults_follow_the_design():
    settings = load()
    assert settings.port == 5000
    assert settings.preflight_timeout == 20.0
    assert settings.check_timeout == 5.0
    assert settings.migrate == "auto"
    assert settings.database_listen_url == BASE["DATABASE_URL"]
    assert settings.public_url == "http://localhost:5000"
    assert settings.log_level == "info"
    assert settings.fatal_ttl == 24 * 3600
    assert settings.worker_ttl <= 60


def test_postgresql_scheme_unix_redis_and_socket_database_are_accepted():
    settings = load(
        DATABASE_URL="postgresql://postgres@/klaxon?host=/run/postgresql",
        REDIS_URL="unix:///run/redis.sock",
    )
    assert settings.redis_url == "unix:///run/redis.sock"


def test_public_url_follows_port_and_drops_trailing_slash():
    assert load(PORT="8080").public_url == "http://localhost:8080"
    assert load(KLAXON_PUBLIC_URL="https://klaxon.example/").public_url == "https://klaxon.example"


def test_dyno_names_the_instance():
    assert load(DYNO="worker.3").instance == "worker.3"


@pytest.mark.parametrize(
    ("variable", "value", "expected_start"),
    [
        ("DATABASE_URL", None, "DATABASE_URL: is not set; expected postgresql://"),
        ("DATABASE_URL", "mysql://db/klaxon", "DATABASE_URL: has scheme 'mysql'"),
        ("DATABASE_URL", "postgres://db:notaport/x", "DATABASE_URL: is not a valid URL"),
        ("REDIS_URL", None, "REDIS_URL: is not set"),
        ("REDIS_URL", "http://cache", "REDIS_URL: has scheme 'http'"),
        ("DATABASE_LISTEN_URL", "redis://x", "DATABASE_LISTEN_URL: has scheme 'redis'"),
        ("PORT", "eighty", "PORT: 'eighty' is not a whole number; expected 1..65535"),
        ("PORT", "70000", "PORT: 70000 is out of range; expected 1..65535"),
        ("KLAXON_PREFLIGHT_TIMEOUT", "soon", "KLAXON_PREFLIGHT_TIMEOUT: 'soon' is not a number"),
        ("KLAXON_CHECK_TIMEOUT", "0", "KLAXON_CHECK_TIMEOUT: '0' is out of range"),
        ("KLAXON_CHECK_TIMEOUT", "30", "KLAXON_CHECK_TIMEOUT: 30s is longer than"),
        (
            "KLAXON_MIGRATE",
            "yes",
            "KLAXON_MIGRATE: 'yes' is not allowed; expected one of auto, check",
        ),
        ("LOG_LEVEL", "loud", "LOG_LEVEL: 'loud' is not allowed"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT: 'xml' is not allowed; expected one of json, console"),
        ("KLAXON_PUBLIC_URL", "ftp://x", "KLAXON_PUBLIC_URL: has scheme 'ftp'"),
        ("KLAXON_SECRET_KEY", None, "KLAXON_SECRET_KEY: is not set"),
        ("KLAXON_WORKER_TTL", "1", "KLAXON_WORKER_TTL: 1 is out of range; expected 5..600"),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY: 0 is out of range"),
        (
            "KLAXON_AUDIT_RETENTION_DAYS",
            "a year",
            "KLAXON_AUDIT_RETENTION_DAYS: 'a year' is not a whole number; expected 0..36500",
        ),
        ("KLAXON_AUDIT_RETENTION_DAYS", "-1", "KLAXON_AUDIT_RETENTION_DAYS: -1 is out of range"),
        (
            "KLAXON_WEBHOOK_ALLOW_CIDRS",
            "10.0.0.0/8,intranet",
            "KLAXON_WEBHOOK_ALLOW_CIDRS: 'intranet' is not a network",
        ),
        (
            "KLAXON_WEBHOOK_ALLOW_CIDRS",
            "10.1.2.3/8",
            "KLAXON_WEBHOOK_ALLOW_CIDRS: '10.1.2.3/8' is not a network (10.1.2.3/8 has host bits",
        ),
    ],
)
def test_bad_values_name_the_variable_and_the_expected_form(variable, value, expected_start):
    with pytest.raises(ConfigError) as caught:
        load(**{variable: value})
    assert str(caught.value).startswith(expected_start)
    assert caught.value.variable == variable


def test_webhook_allow_list_is_empty_by_default_and_parses_cidrs():
    assert load().delivery.webhook_allow == ()
    assert load(KLAXON_WEBHOOK_ALLOW_CIDRS="").delivery.webhook_allow == ()
    allowed = load(KLAXON_WEBHOOK_ALLOW_CIDRS=" 10.1.0.0/16, fd00::/8,192.168.5.7 ")
    assert [str(n) for n in allowed.delivery.webhook_allow] == [
        "10.1.0.0/16",
        "fd00::/8",
        "192.168.5.7/32",
    ]
    # The start-up log line says what is allowed.
    assert allowed.redacted()["webhook_allow_cidrs"] == [
        "10.1.0.0/16",
        "fd00::/8",
        "192.168.5.7/32",
    ]


def test_a_short_secret_key_is_refused_without_echoing_it():
    with pytest.raises(ConfigError) as caught:
        load(KLAXON_SECRET_KEY="hunter2")
    assert "hunter2" not in str(caught.value)
    assert "7 characters" in str(caught.value)


def test_secret_key_can_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("f" * 48 + "\n")
    settings = load_settings(
        {
            "DATABASE_URL": BASE["DATABASE_URL"],
            "REDIS_URL": BASE["REDIS_URL"],
            "KLAXON_SECRET_KEY_FILE": str(secret),
        }
    )
    assert settings.secret_key == "f" * 48


def test_unreadable_secret_file_names_the_file_variable(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "DATABASE_URL": BASE["DATABASE_URL"],
                "REDIS_URL": BASE["REDIS_URL"],
                "KLAXON_SECRET_KEY_FILE": str(tmp_path / "missing"),
            }
        )
    assert str(caught.value).startswith("KLAXON_SECRET_KEY_FILE: cannot read")


def test_settings_repr_and_redacted_view_hide_secrets():
    settings = load()
    assert "k" * 40 not in repr(settings)
    redacted = settings.redacted()
    assert "s3cret" not in str(redacted)
    assert redacted["database_url"] == "postgres://klaxon:***@db.example:5432/klaxon"


def test_redact_url_leaves_passwordless_urls_alone():
    assert redact_url("redis://cache:6379/0") == "redis://cache:6379/0"
    assert redact_url("rediss://:pw@cache:6380/0") == "rediss://:***@cache:6380/0"


def test_web_binds_every_interface_by_default_and_klaxon_bind_host_narrows_it():
    assert load().bind_host == "0.0.0.0"
    assert load(KLAXON_BIND_HOST="127.0.0.1").bind_host == "127.0.0.1"
    assert load(KLAXON_BIND_HOST="::1").bind_host == "::1"
    with pytest.raises(ConfigError, match=r"^KLAXON_BIND_HOST: 'localhost' is not an IP address"):
        load(KLAXON_BIND_HOST="localhost")


def test_klaxon_dev_binds_localhost_and_gives_every_process_web_s_public_url(tmp_path):
    from config.settings import load_dev_settings

    dev = load_dev_settings({"KLAXON_DEV_DIR": str(tmp_path)}, port=5320)
    assert (dev.bind_host, dev.public_url) == ("127.0.0.1", "http://localhost:5320")
    given = {"KLAXON_DEV_DIR": str(tmp_path), "KLAXON_PUBLIC_URL": "https://k.example/"}
    assert load_dev_settings(given, port=5320).public_url == "https://k.example"


def test_a_missing_url_points_at_klaxon_dev_s_env_file_when_there_is_one(tmp_path):
    env = {"KLAXON_DEV_DIR": str(tmp_path), "REDIS_URL": BASE["REDIS_URL"]}
    with pytest.raises(ConfigError) as plain:
        load_settings(env)
    assert "dev.env" not in str(plain.value)

    (tmp_path / "dev.env").write_text("DATABASE_URL=postgresql://x@/y\n")
    with pytest.raises(ConfigError) as hinted:
        load_settings(env)
    assert str(hinted.value).startswith("DATABASE_URL: is not set; expected postgresql://")
    assert f"set -a; . {tmp_path / 'dev.env'}; set +a" in str(hinted.value)


def test_abuse_limits_have_defaults_and_take_limits_notation():
    assert load().limits.failed_auth == "30/minute"
    assert load().limits.proxy_hops == 0
    limits = load(
        KLAXON_LIMIT_VERIFY_PER_ADDRESS="3 per hour",
        KLAXON_LIMIT_VERIFY_PER_USER="20/day",
        KLAXON_LIMIT_FAILED_AUTH="10/minute",
        KLAXON_LIMIT_TEST_SENDS="1/2 hours",
        KLAXON_PROXY_HOPS="1",
    ).limits
    assert (limits.verify_per_address, limits.verify_per_user) == ("3 per hour", "20/day")
    assert (limits.failed_auth, limits.test_sends, limits.proxy_hops) == (
        "10/minute",
        "1/2 hours",
        1,
    )


@pytest.mark.parametrize(
    "name",
    [
        "KLAXON_LIMIT_VERIFY_PER_ADDRESS",
        "KLAXON_LIMIT_FAILED_AUTH",
        "KLAXON_LIMIT_TEST_SENDS",
        "KLAXON_LIMIT_SIGNIN_PER_ADDRESS",
        "KLAXON_LIMIT_SIGNIN_PER_ACCOUNT",
    ],
)
@pytest.mark.parametrize("value", ["5", "five/hour", "5/fortnight", "0/hour", "5/hour;9/day"])
def test_a_malformed_limit_names_its_variable(name, value):
    with pytest.raises(ConfigError) as caught:
        load(**{name: value})
    assert caught.value.variable == name
    assert "COUNT/PERIOD" in str(caught.value)


def test_proxy_hops_are_bounded():
    with pytest.raises(ConfigError) as caught:
        load(KLAXON_PROXY_HOPS="9")
    assert caught.value.variable == "KLAXON_PROXY_HOPS"


def test_sign_in_limits_have_defaults_and_take_limits_notation():
    limits = load().limits
    assert (limits.signin_per_address, limits.signin_per_account) == ("20/minute", "10/15 minutes")
    limits = load(
        KLAXON_LIMIT_SIGNIN_PER_ADDRESS="5/minute", KLAXON_LIMIT_SIGNIN_PER_ACCOUNT="3/hour"
    ).limits
    assert (limits.signin_per_address, limits.signin_per_account) == ("5/minute", "3/hour")


def test_sessions_last_twelve_idle_hours_and_seven_days_by_default():
    sessions = load().sessions
    assert (sessions.idle, sessions.max) == (12 * 3600, 7 * 86400)
    sessions = load(KLAXON_SESSION_IDLE="60", KLAXON_SESSION_MAX="120").sessions
    assert (sessions.idle, sessions.max) == (60, 120)


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"KLAXON_SESSION_IDLE": "0"}, "KLAXON_SESSION_IDLE"),
        ({"KLAXON_SESSION_MAX": "ten"}, "KLAXON_SESSION_MAX"),
        ({"KLAXON_SESSION_MAX": str(91 * 86400)}, "KLAXON_SESSION_MAX"),
        ({"KLAXON_SESSION_IDLE": "600", "KLAXON_SESSION_MAX": "60"}, "KLAXON_SESSION_IDLE"),
    ],
)
def test_bad_session_lifetimes_name_their_variable(overrides, variable):
    with pytest.raises(ConfigError) as caught:
        load(**overrides)
    assert caught.value.variable == variable
