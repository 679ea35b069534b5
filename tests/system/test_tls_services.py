"""Managed Postgres and Redis over TLS: a Postgres that accepts only TLS (`sslmode=require`,
and `verify-full` against a CA file) and a redis-server serving `rediss://` with a throwaway
self-signed certificate, as Heroku's Redis does. web, worker and engine run against both."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from app.platform.embedded import free_port
from tests.support.e2e import Http
from tests.support.fakes.webhook import WebhookReceiver
from tests.support.first_alert import page_and_acknowledge
from tests.support.http import get
from tests.support.procs import REPO, KlaxonProcess, klaxon_bin
from tests.support.tls_servers import (
    Certificate,
    self_signed_certificate,
    tls_postgres,
    tls_redis,
)
from tests.support.wait import wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(180)]

HEALTHY_WITHIN = 45.0  # seconds from start to a passing /healthz
EXIT_WITHIN = 30.0  # seconds for a process whose preflight fails to exit
# What the preflight must tell an operator whose Redis serves a self-signed certificate.
UNTRUSTED = "TLS certificate not trusted"
SETTING_HINT = "KLAXON_REDIS_TLS_VERIFY=none"


@dataclass(frozen=True)
class TlsServices:
    cert: Certificate
    postgres_url: str  # the server's `postgres` database, no sslmode
    redis_url: str  # rediss://


@pytest.fixture(scope="module")
def tls_services() -> Iterator[TlsServices]:
    """One TLS Postgres and one TLS Redis for this module. Kept under the checkout's .klaxon/:
    the server runs as `pgserver`, which must traverse every parent folder, and any pytest
    session starting on this machine resets /tmp/pytest-of-<user> to 0700."""
    root = REPO / ".klaxon" / f"test-tls-{secrets.token_hex(4)}"
    cert = self_signed_certificate(root / "certs")
    try:
        with tls_postgres(root / "postgres", cert) as pg, tls_redis(root / "redis", cert) as redis:
            yield TlsServices(cert, pg, redis)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def database(services: TlsServices) -> str:
    """A fresh database on the TLS Postgres; its URL without sslmode."""
    name = f"klaxon_tls_{secrets.token_hex(4)}"
    with psycopg.connect(services.postgres_url + "?sslmode=require", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return services.postgres_url.rsplit("/", 1)[0] + f"/{name}"


def verify_full(url: str, ca_file: Path) -> str:
    return f"{url}?sslmode=verify-full&sslrootcert={quote(str(ca_file), safe='/')}"


@pytest.fixture
def tls_env(klaxon_env: dict[str, str], tls_services: TlsServices) -> dict[str, str]:
    """Klaxon on TLS only: the pool with sslmode=require; the listener and migrations
    (DATABASE_LISTEN_URL) with verify-full against the CA; Redis over rediss://."""
    url = database(tls_services)
    return {
        **klaxon_env,
        "DATABASE_URL": url + "?sslmode=require",
        "DATABASE_LISTEN_URL": verify_full(url, tls_services.cert.cert),
        "REDIS_URL": tls_services.redis_url,
        "KLAXON_WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8",  # the receiver is on loopback
    }


def preflight(env: dict[str, str]) -> tuple[int, dict[str, dict[str, object]]]:
    """`klaxon preflight --json`: exit code and each check's result by name."""
    done = subprocess.run(
        [klaxon_bin("klaxon"), "preflight", "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=EXIT_WITHIN,
    )
    report = json.loads(done.stdout)
    return done.returncode, {c["check"]: c for c in report["checks"]}


def test_the_server_accepts_tls_connections_only(tls_services: TlsServices) -> None:
    # Otherwise the tests below would prove nothing about TLS.
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(tls_services.postgres_url + "?sslmode=disable", connect_timeout=5)
    with psycopg.connect(tls_services.postgres_url + "?sslmode=require") as conn:
        row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
        assert row == (True,)


def test_web_worker_and_engine_serve_through_tls_postgres_and_a_trusted_self_signed_redis(
    tls_env: dict[str, str],
    start_web: Callable[..., tuple[KlaxonProcess, int]],
    start_worker: Callable[..., KlaxonProcess],
    start_engine: Callable[..., KlaxonProcess],
    webhook_receiver: WebhookReceiver,
) -> None:
    env = {**tls_env, "KLAXON_REDIS_TLS_VERIFY": "none"}  # Heroku Data for Redis's setting
    _web, port = start_web(env)
    env["KLAXON_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    start_worker(env)
    start_engine(env)
    health = wait_until(
        lambda: (
            (answer := get(port, "/healthz", timeout=5)).body.get("status") == "pass" and answer
        ),
        HEALTHY_WITHIN,
        "/healthz pass over TLS",
    )
    assert {"database", "redis", "listener", "workers", "engine"} <= set(health.body["checks"])

    key = _admin_key(env)
    api = Http(port, key)
    alert = page_and_acknowledge(api, webhook_receiver, "disk full on db-1")
    assert alert["status"] == "acknowledged"

    # Metrics and the mounted rq-dashboard read Redis through the same TLS settings.
    status, metrics, _ = api.call("GET", "/metrics")
    assert status == 200 and b'klaxon_workers_live{queue="klaxon-notify"} 1.0' in metrics, metrics
    status, queues, _ = api.call("GET", "/admin/rq/0/data/queues.json")
    assert status == 200, queues
    assert "klaxon-notify" in {q["name"] for q in queues["queues"]}
    _assert_every_klaxon_connection_is_tls(tls_env["DATABASE_URL"])


def _admin_key(env: dict[str, str]) -> str:
    done = subprocess.run(
        [klaxon_bin("klaxon"), "create-api-key", "--name", "tls", "--scope", "admin", "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=EXIT_WITHIN,
        check=True,
    )
    return str(json.loads(done.stdout)["key"])


def _assert_every_klaxon_connection_is_tls(url: str) -> None:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT a.application_name, s.ssl FROM pg_stat_activity a "
            "JOIN pg_stat_ssl s USING (pid) WHERE a.application_name LIKE 'klaxon%'"
        ).fetchall()
    names = {name for name, _ in rows}
    assert {"klaxon-web", "klaxon-listen"} & names, rows  # the pool and the listeners
    assert all(ssl for _, ssl in rows), rows


@pytest.mark.parametrize("process", ["web", "worker", "engine"])
def test_each_process_refuses_a_self_signed_redis_certificate_by_default_and_says_what_to_set(
    process: str, tls_env: dict[str, str], spawn: Callable[..., KlaxonProcess]
) -> None:
    command = [klaxon_bin("klaxon"), process]
    proc = spawn(command, {**tls_env, "PORT": str(free_port())}, name=process)
    assert proc.wait(EXIT_WITHIN) == 1, proc.stderr()[-3000:]
    failed = proc.find_event("preflight_failed", check="redis")
    assert failed is not None, proc.stderr()[-3000:]
    assert UNTRUSTED in failed["error"] and SETTING_HINT in failed["error"], failed
    assert "KLAXON_REDIS_TLS_CA_FILE" in failed["error"], failed


def test_a_ca_file_makes_the_self_signed_redis_certificate_trusted(
    tls_env: dict[str, str], tls_services: TlsServices
) -> None:
    code, checks = preflight({**tls_env, "KLAXON_REDIS_TLS_CA_FILE": str(tls_services.cert.cert)})
    assert code == 0, checks
    assert {name: c["status"] for name, c in checks.items()} == dict.fromkeys(
        ("config", "database", "redis", "listener", "schema"), "pass"
    )


def test_a_ca_file_that_did_not_sign_the_redis_certificate_fails_the_redis_check(
    tls_env: dict[str, str], tmp_path: Path
) -> None:
    other = self_signed_certificate(tmp_path / "other")
    code, checks = preflight({**tls_env, "KLAXON_REDIS_TLS_CA_FILE": str(other.cert)})
    assert code == 1
    assert checks["redis"]["status"] == "fail"
    assert UNTRUSTED in str(checks["redis"]["error"]), checks["redis"]


def test_postgres_verify_full_against_another_ca_fails_the_database_check_naming_the_url(
    tls_env: dict[str, str], tmp_path: Path
) -> None:
    other = self_signed_certificate(tmp_path / "other")
    url = tls_env["DATABASE_URL"].split("?")[0]
    env = {
        **tls_env,
        "DATABASE_URL": verify_full(url, other.cert),
        "KLAXON_REDIS_TLS_VERIFY": "none",
    }
    code, checks = preflight(env)
    assert code == 1
    assert checks["database"]["status"] == "fail"
    error = str(checks["database"]["error"])
    assert "certificate verify failed" in error and "DATABASE_URL" in error, error
