"""gunicorn settings for Klaxon's `web` process. Every setting says which failure it prevents.

Startup order (docs/architecture.md, Startup): the master parses settings (exit 2 on a bad value),
then runs the preflight as a separate process from `on_starting` — before it binds the port or forks
— and exits non-zero without ever binding when the preflight fails or overruns its budget.
"""

import gc
import json
import os
import signal
import subprocess
import sys
import threading

import structlog

from config.gunicorn_logging import render_access_directly
from config.logging import configure_logging
from config.settings import ConfigError, load_settings

configure_logging(process="web")
_log = structlog.get_logger("klaxon.gunicorn")

try:
    _settings = load_settings()
except ConfigError as _exc:
    # The same line every other check logs (docs/architecture.md, Startup), so one log query
    # finds them all.
    _log.error("preflight_check", check="config", status="fail", duration_ms=0.0, error=str(_exc))
    sys.exit(2)
configure_logging(_settings.log_level, _settings.log_format, process="web")
render_access_directly(_settings.log_format == "json")

# Heroku routes to $PORT on every interface (KLAXON_BIND_HOST's default, 0.0.0.0); `klaxon dev`
# binds 127.0.0.1 so a laptop's dev system is not reachable from its network.
_host = f"[{_settings.bind_host}]" if ":" in _settings.bind_host else _settings.bind_host
bind = [f"{_host}:{_settings.port}"]
# One process per core (WEB_CONCURRENCY); threads let slow ingest calls overlap instead of
# queueing behind one another.
workers = _settings.web_concurrency
# gthread with a lane of its own for /livez and /readyz (config/gunicorn_worker.py): with stock
# gthread a probe queued behind four busy app threads (28.8 s under two hostile bodies, then
# WORKER TIMEOUT). Here a new connection waits for its first bytes on the main thread's poller,
# not in a pool thread; a complete bodiless probe request is answered by PROBE_THREADS threads
# of its own; every read from a client times out after CLIENT_READ_TIMEOUT (a 408), a body
# must arrive within app.platform.body_limits.BODY_SECONDS, and an unread body is drained at
# most 64 KiB / 5 s before the connection is closed instead.
worker_class = "config.gunicorn_worker.ProbeLaneWorker"
threads = 4
# A request stuck for 30 s is killed and its worker replaced: no request may outlive Heroku's
# router timeout.
timeout = 30
# SIGTERM: in-flight requests get 20 s, so the master exits well inside Heroku's 30 s.
graceful_timeout = 20
# Heroku's router keeps connections open; answer keep-alive briefly, then free the thread.
keepalive = 5
# No recycling by request count (max_requests): measured under load, both workers reached their
# limit within a fraction of a second of each other and web stopped answering for up to ~1 s.
# A leak is a bug to find, not something to restart away on a timer.
max_requests = 0
# Logs: one structlog pipeline; access lines without query strings.
logger_class = "config.gunicorn_logging.StructlogGunicornLogger"
accesslog = "-"
errorlog = "-"
# The app must not be imported in the master: connections never cross a fork, and a broken
# import must fail in a worker (exit 3, WORKER_BOOT_ERROR) so the master halts.
preload_app = False
# Our own preflight and boot watchdog decide readiness; no control socket is needed.
control_socket_disable = True

# Exit code of a gunicorn worker that failed to boot: the master halts instead of respawning.
WORKER_BOOT_ERROR = 3
# The preflight process gets its budget plus this long to exit on its own before it is killed.
PREFLIGHT_GRACE = 2.0


def on_starting(server):
    """Run the preflight as its own process; exit without binding the port when it fails."""
    command = [sys.executable, "-m", "app.commands.main", "preflight", "--json", "--process", "web"]
    budget = _settings.preflight_timeout + PREFLIGHT_GRACE
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True)
    try:
        stdout, _ = proc.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _log.error(
            "preflight_failed",
            error=f"preflight did not finish within {budget:g}s",
            check="preflight",
            exit_code=1,
        )
        sys.exit(1)
    if proc.returncode != 0:
        failed = _failed_checks(stdout)
        first = failed[0] if failed else {}
        _log.error(
            "preflight_failed",
            failed=[c["check"] for c in failed],
            check=first.get("check"),
            error=first.get("error"),
            exit_code=proc.returncode,
        )
        sys.exit(proc.returncode if proc.returncode in (1, 2) else 1)
    _log.info("preflight_passed", port=_settings.port)


def _failed_checks(stdout):
    try:
        report = json.loads(stdout or b"{}")
    except ValueError:
        return []
    return [c for c in report.get("checks", []) if c.get("status") == "fail"]


def post_fork(server, worker):
    """Boot watchdog: gunicorn's timeout does not cover a worker hanging while it loads the
    app, so a worker not booted within KLAXON_BOOT_TIMEOUT exits 3 and the master halts."""

    def expire():
        structlog.get_logger("klaxon.gunicorn").error(
            "worker_boot_timeout", pid=os.getpid(), timeout=_settings.boot_timeout
        )
        os._exit(WORKER_BOOT_ERROR)

    watchdog = threading.Timer(_settings.boot_timeout, expire)
    watchdog.daemon = True
    watchdog.start()
    worker._klaxon_boot_watchdog = watchdog


def post_worker_init(worker):
    """The app loaded: stop the watchdog, start the process's background parts and wait
    (bounded) for its listener, so the worker's first /readyz is not a "connecting" 503."""
    worker._klaxon_boot_watchdog.cancel()
    # What the app built at start lives as long as the process: moved out of the collector's
    # reach, a full collection no longer walks it (a busy schedule's month view allocates
    # enough to trigger one every few requests).
    gc.freeze()
    runtime = worker.wsgi.extensions.get("klaxon") if hasattr(worker.wsgi, "extensions") else None
    if runtime is not None and not runtime.start_and_wait():
        _log.warning(
            "worker_listener_not_connected",
            pid=os.getpid(),
            waited=_settings.check_timeout,
            error=runtime.listener.status().error,
        )


def worker_exit(server, worker):
    runtime = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("klaxon")
    if runtime is not None:
        runtime.stop()
