"""Preflight: bounded, fail-fast checks a process passes before it offers any service.

Each check has its own timeout (KLAXON_CHECK_TIMEOUT) and the whole run a hard budget
(KLAXON_PREFLIGHT_TIMEOUT). A check that hangs is a failure, never a hang: every check runs
under app.platform.bounded.run_bounded, behind the libraries' own timeouts.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import structlog
from redis.exceptions import RedisError

from app.platform import postgres
from app.platform.bounded import DeadlineExceeded, run_bounded
from app.platform.redis_client import make_redis
from config.settings import Settings

log = structlog.get_logger(__name__)

LISTEN_CHANNEL = "klaxon_preflight"
# Time the schema check keeps for itself out of the remaining budget when it migrates.
SCHEMA_CHECK_MARGIN = 1.0
# Seconds (at most a quarter of the check timeout) by which the listener check gives up waiting
# for its NOTIFY before run_bounded's deadline of the same length: otherwise the two race, and
# under load a pooler that swallows notifications is reported as a plain timeout, not by name.
LISTEN_VERDICT_MARGIN = 0.5


@dataclass
class CheckResult:
    check: str
    status: str  # pass | fail | skip
    duration_ms: float
    error: str | None = None


@dataclass
class Report:
    results: list[CheckResult] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def passed(self) -> bool:
        return all(r.status == "pass" for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "fail"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "pass" if self.passed else "fail",
            "duration_ms": self.duration_ms,
            "checks": [asdict(r) for r in self.results],
        }


class CheckFailed(Exception):
    """A check's failure, with a message that says what failed and what to do."""


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Settings, float], None]  # (settings, timeout) -> None, raising on failure
    needs: tuple[str, ...] = ()
    # Checks that may legitimately take longer than one check timeout (migrations) get the
    # remaining preflight budget instead.
    uses_budget: bool = False
    # What a hang means, for the error line: (settings, timeout) -> message.
    on_hang: Callable[[Settings, float], str] | None = None


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.hostname:
        return f"{parts.hostname}:{parts.port or 5432}"
    query_host = parse_qs(parts.query).get("host")
    return query_host[0] if query_host else "local socket"


def _db_error(exc: BaseException, url: str, variable: str, timeout: float) -> CheckFailed:
    where = _host_of(url)
    if isinstance(exc, DeadlineExceeded | psycopg.errors.ConnectionTimeout | postgres.QueryTimeout):
        return CheckFailed(
            f"connection to {where} timed out after {timeout:g}s — is Postgres running and "
            f"answering? check {variable}"
        )
    return CheckFailed(f"{postgres.describe_error(exc)} — check {variable}")


def check_database(settings: Settings, timeout: float) -> None:
    """Connect and SELECT 1."""
    try:
        conn = postgres.connect(settings.database_url, timeout, application_name="klaxon-preflight")
        try:
            postgres.bounded_query(conn, "SELECT 1", timeout)
        finally:
            conn.close()
    except (psycopg.Error, OSError, postgres.QueryTimeout) as exc:
        raise _db_error(exc, settings.database_url, "DATABASE_URL", timeout) from None


def check_schema(settings: Settings, timeout: float) -> None:
    """Migrations at head; applied here under the migration lock when KLAXON_MIGRATE=auto.

    Migrations hold a session-level advisory lock, which a transaction-pooling proxy cannot
    keep, so they run on the direct connection (DATABASE_LISTEN_URL, default DATABASE_URL).
    """
    # Imported here: Alembic and SQLAlchemy cost ~0.2 s, paid only once the database answers.
    from app.platform import migrate

    url = settings.database_listen_url
    try:
        if settings.migrate == "auto":
            lock_wait = max(timeout - SCHEMA_CHECK_MARGIN, 0.5)
            state = migrate.upgrade(url, settings.check_timeout, lock_wait)
        else:
            conn = postgres.connect(url, timeout)
            try:
                state = migrate.schema_state(conn, timeout)
            finally:
                conn.close()
    except migrate.MigrationError as exc:
        raise CheckFailed(str(exc)) from None
    except (psycopg.Error, OSError, postgres.QueryTimeout) as exc:
        raise _db_error(exc, url, "DATABASE_LISTEN_URL", timeout) from None
    if not state.at_head:
        raise CheckFailed(migrate.describe(state))


def check_redis(settings: Settings, timeout: float) -> None:
    """PING, then write, read back and delete a scratch key."""
    key = f"klaxon:preflight:{secrets.token_hex(8)}"
    try:
        client = make_redis(settings.redis_url, timeout, settings.redis_tls)
        try:
            client.ping()
            client.set(key, b"ok", ex=60)
            if client.get(key) != b"ok":
                raise CheckFailed("a scratch key written to Redis did not read back")
            client.delete(key)
        finally:
            client.close()
    except (RedisError, OSError) as exc:
        where = _redis_where(settings.redis_url)
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise CheckFailed(f"{where}: {_UNTRUSTED_REDIS_CERT} ({exc})") from None
        raise CheckFailed(
            f"{where}: {exc} — is Redis running and answering? check REDIS_URL"
        ) from None


# The answer to the first thing a managed Redis with a self-signed certificate will show.
_UNTRUSTED_REDIS_CERT = (
    "TLS certificate not trusted — Klaxon verifies Redis's certificate by default; set "
    "KLAXON_REDIS_TLS_CA_FILE to the CA that signed it, or KLAXON_REDIS_TLS_VERIFY=none to "
    "accept it unverified (needed for Heroku Data for Redis's self-signed certificate)"
)


def _redis_where(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"redis at {parts.path}"
    return f"redis at {parts.hostname}:{parts.port or 6379}"


def check_listener(settings: Settings, timeout: float) -> None:
    """A real LISTEN/NOTIFY round trip: LISTEN on the listen URL, NOTIFY through DATABASE_URL."""
    deadline = time.monotonic() + timeout - min(LISTEN_VERDICT_MARGIN, timeout / 4)
    payload = secrets.token_hex(8)
    try:
        listen = postgres.connect(
            settings.database_listen_url, timeout, application_name="klaxon-listen"
        )
    except (psycopg.Error, OSError) as exc:
        raise _db_error(exc, settings.database_listen_url, "DATABASE_LISTEN_URL", timeout) from None
    try:
        listen.execute(f"LISTEN {LISTEN_CHANNEL}")
        _notify(settings, payload, deadline - time.monotonic())
        if not _received(listen, payload, deadline):
            raise CheckFailed(
                f"LISTEN was accepted but a NOTIFY sent through DATABASE_URL did not arrive within "
                f"{timeout:g}s — the listen connection looks like a transaction-pooling proxy "
                "(e.g. pgbouncer in transaction mode), which never delivers notifications; set "
                "DATABASE_LISTEN_URL to a direct Postgres connection"
            )
    except psycopg.Error as exc:
        raise _db_error(exc, settings.database_listen_url, "DATABASE_LISTEN_URL", timeout) from None
    finally:
        listen.close()


def _notify(settings: Settings, payload: str, timeout: float) -> None:
    conn = postgres.connect(settings.database_url, timeout, application_name="klaxon-preflight")
    try:
        postgres.bounded_query(conn, f"SELECT pg_notify('{LISTEN_CHANNEL}', '{payload}')", timeout)
    finally:
        conn.close()


def _received(conn: psycopg.Connection[Any], payload: str, deadline: float) -> bool:
    while (remaining := deadline - time.monotonic()) > 0:
        for notify in conn.notifies(timeout=remaining):
            if notify.payload == payload:
                return True
    return False


def _db_hang(variable: str) -> Callable[[Settings, float], str]:
    def describe(settings: Settings, timeout: float) -> str:
        url = (
            settings.database_listen_url
            if variable == "DATABASE_LISTEN_URL"
            else settings.database_url
        )
        return str(_db_error(DeadlineExceeded(), url, variable, timeout))

    return describe


def _redis_hang(settings: Settings, timeout: float) -> str:
    where = _redis_where(settings.redis_url)
    return (
        f"{where}: no answer within {timeout:g}s — is Redis running and answering? check REDIS_URL"
    )


CORE_CHECKS: tuple[Check, ...] = (
    Check("database", check_database, on_hang=_db_hang("DATABASE_URL")),
    Check("redis", check_redis, on_hang=_redis_hang),
    Check("listener", check_listener, needs=("database",), on_hang=_db_hang("DATABASE_LISTEN_URL")),
    # Migrations run on the listen (direct) connection, so they wait until it has proved itself.
    Check("schema", check_schema, needs=("database", "listener"), uses_budget=True),
)


def run_preflight(settings: Settings, extra: Sequence[Check] = ()) -> Report:
    """Run every check within the preflight budget, logging one line per check."""
    started = time.monotonic()
    budget_end = started + settings.preflight_timeout
    report = Report(results=[CheckResult("config", "pass", 0.0)])
    _log_result(report.results[0])
    for check in (*CORE_CHECKS, *extra):
        result = _run_check(check, settings, report, budget_end)
        report.results.append(result)
        _log_result(result)
    report.duration_ms = _ms_since(started)
    return report


def _run_check(check: Check, settings: Settings, report: Report, budget_end: float) -> CheckResult:
    failed_needs = [
        r.check for r in report.results if r.check in check.needs and r.status != "pass"
    ]
    if failed_needs:
        return CheckResult(check.name, "skip", 0.0, f"skipped: {', '.join(failed_needs)} failed")
    remaining = budget_end - time.monotonic()
    if remaining <= 0:
        return CheckResult(check.name, "fail", 0.0, "preflight budget exhausted before this check")
    timeout = remaining if check.uses_budget else min(settings.check_timeout, remaining)
    started = time.monotonic()
    try:
        run_bounded(lambda: check.run(settings, timeout), timeout, name=f"preflight-{check.name}")
    except CheckFailed as exc:
        return CheckResult(check.name, "fail", _ms_since(started), str(exc))
    except DeadlineExceeded:
        error = (
            check.on_hang(settings, timeout) if check.on_hang else f"no answer within {timeout:g}s"
        )
        return CheckResult(check.name, "fail", _ms_since(started), error)
    except Exception as exc:  # a bug in a check must still fail the check, with its cause
        error = f"{type(exc).__name__}: {exc}"
        return CheckResult(check.name, "fail", _ms_since(started), error)
    return CheckResult(check.name, "pass", _ms_since(started))


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _log_result(result: CheckResult) -> None:
    level = "info" if result.status == "pass" else "error" if result.status == "fail" else "warning"
    getattr(log, level)(
        "preflight_check",
        check=result.check,
        status=result.status,
        duration_ms=result.duration_ms,
        error=result.error,
    )
