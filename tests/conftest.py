"""The shared test world: real Postgres and Redis, one database and one Redis per test.

Postgres: TEST_DATABASE_URL (an admin URL) or, when unset, an embedded server in /dev/shm or under
.klaxon/test-postgres (README, Development; see suite_postgres_dir). Each test gets a fresh database
cloned from a template migrated once per test session (tests.support.databases). Redis: RQ's keys
cannot be prefixed, so key-space isolation means a server of one's own. Each test process (xdist
worker) runs one redis-server, and every test gets it emptied (FLUSHALL, and the connections of
earlier tests closed): tests run one at a time per process, so no two share it. Starting a server
per test cost ~25 ms each, a minute of the suite. A test that stops or kills "its" Redis asks for
`redis_server` and gets a server of its own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from app.platform import migrate
from app.platform.embedded import EmbeddedPostgres, EmbeddedRedis
from config.settings import Settings, load_settings
from tests.support.databases import DatabasePool, with_database
from tests.support.net import BlackholeProxy, tcp_target
from tests.support.procs import BIN, KlaxonProcess
from tests.support.suite_postgres import suite_postgres_dir

SECRET_KEY = "test-secret-key-0123456789abcdef0123456789"
# The tests' webhook receivers listen on loopback, which the outbound policy refuses unless
# allowed: the shared environment allows it, as an operator with internal receivers would.
LOOPBACK_ALLOWED = "127.0.0.0/8,::1/128"


REDIS_TIMEOUT = 10  # seconds any call to a test's Redis server may take


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    server = EmbeddedPostgres(suite_postgres_dir())
    yield server.start()
    server.release()  # while logging still works; the last xdist worker out stops it


@pytest.fixture(scope="session")
def template_database(pg_admin_url: str, worker_id: str) -> Iterator[str]:
    name = f"klaxon_tmpl_{worker_id}_{secrets.token_hex(3)}"
    with psycopg.connect(pg_admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate.upgrade(with_database(pg_admin_url, name), 10, 30)
    yield name
    with psycopg.connect(pg_admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str, template: str | None = None) -> Iterator[str]:
    """Create a database (from `template`, if given), yield its URL, drop it afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    source = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{source}')
    try:
        yield with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_pool(pg_admin_url: str, template_database: str) -> Iterator[DatabasePool]:
    pool = DatabasePool(pg_admin_url, template_database).start()
    yield pool
    pool.stop()


@pytest.fixture
def database_url(database_pool: DatabasePool) -> Iterator[str]:
    """A migrated database of this test's own (cloned ahead of time, dropped after)."""
    url = database_pool.take()
    yield url
    database_pool.give_back(url)


@pytest.fixture
def empty_database_url(pg_admin_url: str) -> Iterator[str]:
    """A database of this test's own with no schema at all."""
    with scratch_database(pg_admin_url, "klaxon_e") as url:
        yield url


@pytest.fixture
def db_proxy(database_url: str) -> Iterator[tuple[BlackholeProxy, str]]:
    """A switchable proxy in front of this test's database, and a TCP URL through it."""
    proxy = BlackholeProxy(*tcp_target(database_url))
    name = urlsplit(database_url).path.lstrip("/")
    yield proxy, f"postgresql://postgres@127.0.0.1:{proxy.port}/{name}"
    proxy.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A redis-server of this test's own (to stop or kill it)."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.kill()  # its data is thrown away: no need to wait ~0.1 s for a graceful shutdown


@pytest.fixture(scope="session")
def process_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """This test process's redis-server, emptied for each test by `redis_url`."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """This test's Redis: its own `redis_server` if it asked for one, else this process's server,
    emptied."""
    if "redis_server" in request.fixturenames:
        own: EmbeddedRedis = request.getfixturevalue("redis_server")
        return own.url
    shared: EmbeddedRedis = request.getfixturevalue("process_redis")
    empty_redis(shared.url)
    return shared.url


def empty_redis(url: str) -> None:
    """Close every other connection (an earlier test's clients, its subscribers) and delete every
    key, so this test starts from an empty server."""
    from redis import Redis

    timeouts = {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT}
    with Redis.from_url(url, **timeouts) as r:
        for kind in ("normal", "pubsub"):
            r.client_kill_filter(_type=kind, skipme=True)
        r.flushall()


@pytest.fixture
def instance_name() -> str:
    """A DYNO for this test's processes, so fatal-report keys are predictable and private."""
    return f"test.{secrets.token_hex(3)}"


@pytest.fixture
def klaxon_env(database_url: str, redis_url: str, instance_name: str) -> dict[str, str]:
    """The environment a user would give Klaxon, pointing at this test's servers."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KLAXON_", "DATABASE_", "REDIS_", "PORT", "DYNO", "LOG_"))
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        KLAXON_SECRET_KEY=SECRET_KEY,
        KLAXON_CHECK_TIMEOUT="2",
        KLAXON_PREFLIGHT_TIMEOUT="15",
        KLAXON_ENGINE_CYCLE="1",
        LOG_FORMAT="json",
        LOG_LEVEL="info",
        DYNO=instance_name,
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
        WEB_CONCURRENCY="1",
        KLAXON_WEBHOOK_ALLOW_CIDRS=LOOPBACK_ALLOWED,
    )
    return env


@pytest.fixture
def settings_for(klaxon_env: dict[str, str]) -> Callable[..., Settings]:
    """Settings as a process would parse them from klaxon_env plus `overrides`."""

    def build(**overrides: str) -> Settings:
        return load_settings({**klaxon_env, **overrides})

    return build


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., KlaxonProcess]]:
    """Start a real process; every one started is killed (with its children) at teardown."""
    started: list[KlaxonProcess] = []

    def start(args: list[str], env: dict[str, str], name: str | None = None) -> KlaxonProcess:
        proc = KlaxonProcess(args, env, tmp_path, name or f"proc{len(started)}")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill_all()


@pytest.fixture
def web_app(settings_for: Callable[..., Settings]) -> Iterator[Any]:
    """Klaxon's Flask app on this test's database and Redis (no gunicorn)."""
    from app import create_app

    app = create_app(settings_for())
    app.config["TESTING"] = True
    yield app
    app.extensions["klaxon"].stop()


@pytest.fixture
def client(web_app: Any) -> Any:
    return web_app.test_client()


@pytest.fixture
def db_conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit dict-row connection to this test's database, for setup and assertions."""
    from psycopg.rows import dict_row

    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def make_service(db_conn: psycopg.Connection[Any]) -> Callable[..., dict[str, Any]]:
    """make_service(name=...) -> a service with one generic integration key (token included)."""
    from app.directory import services

    def make(name: str | None = None, public_url: str = "http://localhost:5000") -> dict[str, Any]:
        return services.create_service_with_key(
            db_conn, name or f"service-{secrets.token_hex(3)}", public_url
        )

    return make


@pytest.fixture
def make_api_key(db_conn: psycopg.Connection[Any]) -> Callable[[str], str]:
    """make_api_key(scope) -> the bearer token of a new API key."""
    from app.directory import api_keys

    def make(scope: str = "admin") -> str:
        return str(api_keys.create_api_key(db_conn, f"test-{scope}", scope)["key"])

    return make


@pytest.fixture
def webhook_receiver() -> Iterator[Any]:
    """A local webhook receiver (tests.support.fakes.webhook) that records what it gets."""
    from tests.support.fakes.webhook import WebhookReceiver

    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """A local SMTP server with AUTH (tests.support.fakes.smtp) that records what it gets."""
    from tests.support.fakes.smtp import FakeSmtp

    server = FakeSmtp().start()
    yield server
    server.stop()


@pytest.fixture
def fake_twilio() -> Iterator[Any]:
    """A local fake of Twilio's REST API (tests.support.fakes.twilio) that records requests."""
    from tests.support.fakes.twilio import FakeTwilio

    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture
def fake_slack() -> Iterator[Any]:
    """A local fake of Slack's Web API (tests.support.fakes.slack) that records requests."""
    from tests.support.fakes.slack import FakeSlack

    server = FakeSlack().start()
    yield server
    server.stop()
