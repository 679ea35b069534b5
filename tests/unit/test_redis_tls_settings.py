"""KLAXON_REDIS_TLS_VERIFY and KLAXON_REDIS_TLS_CA_FILE: parsed strictly, applied to rediss://."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.platform.redis_client import make_redis, tls_kwargs
from config.settings import ConfigError, RedisTls, load_settings, redis_tls_for_reports

BASE = {
    "DATABASE_URL": "postgresql://u@db/klaxon",
    "REDIS_URL": "rediss://:p@redis.example.com:6380/0",
    "KLAXON_SECRET_KEY": "k" * 32,
}


def test_verification_is_on_by_default() -> None:
    assert load_settings(BASE).redis_tls == RedisTls(verify="required", ca_file=None)


def test_verification_off_is_an_explicit_choice() -> None:
    settings = load_settings({**BASE, "KLAXON_REDIS_TLS_VERIFY": "NONE"})
    assert settings.redis_tls == RedisTls(verify="none")
    assert settings.redacted()["redis_tls_verify"] == "none"


def test_an_unknown_verify_mode_names_the_variable_and_the_choices() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings({**BASE, "KLAXON_REDIS_TLS_VERIFY": "false"})
    assert str(exc.value) == (
        "KLAXON_REDIS_TLS_VERIFY: 'false' is not allowed; expected one of required, none"
    )


def test_a_ca_file_must_be_readable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^KLAXON_REDIS_TLS_CA_FILE: '.*missing.pem' is not a"):
        load_settings({**BASE, "KLAXON_REDIS_TLS_CA_FILE": str(tmp_path / "missing.pem")})
    with pytest.raises(ConfigError, match="is not a readable file"):
        load_settings({**BASE, "KLAXON_REDIS_TLS_CA_FILE": str(tmp_path)})  # a folder
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert load_settings({**BASE, "KLAXON_REDIS_TLS_CA_FILE": str(ca)}).redis_tls.ca_file == str(ca)


def test_a_ca_file_with_verification_off_is_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    env = {**BASE, "KLAXON_REDIS_TLS_VERIFY": "none", "KLAXON_REDIS_TLS_CA_FILE": str(ca)}
    with pytest.raises(ConfigError, match=r"^KLAXON_REDIS_TLS_CA_FILE: is set while"):
        load_settings(env)


def test_fatal_reports_use_the_setting_even_when_other_settings_are_bad() -> None:
    env = {"KLAXON_REDIS_TLS_VERIFY": "none", "KLAXON_SECRET_KEY": "short"}
    assert redis_tls_for_reports(env) == RedisTls(verify="none")
    assert redis_tls_for_reports({"KLAXON_REDIS_TLS_VERIFY": "bogus"}) == RedisTls()


@pytest.mark.parametrize("url", ["redis://h:6379/0", "unix:///run/redis.sock"])
def test_plain_connections_get_no_tls_arguments(url: str) -> None:
    assert tls_kwargs(url, RedisTls(verify="none")) == {}
    make_redis(url, 1.0, RedisTls(verify="none"))  # a plain connection refuses ssl_* arguments


def test_rediss_connections_verify_or_not_as_told() -> None:
    url = BASE["REDIS_URL"]
    assert tls_kwargs(url, RedisTls()) == {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": None,
    }
    assert tls_kwargs(url, RedisTls(verify="none")) == {
        "ssl_cert_reqs": "none",
        "ssl_check_hostname": False,
    }
    kwargs = make_redis(url, 1.0, RedisTls(ca_file="/ca.pem")).connection_pool.connection_kwargs
    assert kwargs["ssl_ca_certs"] == "/ca.pem" and kwargs["ssl_cert_reqs"] == "required"
