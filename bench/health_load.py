"""/readyz and /healthz under load, healthy and with the database blackholed.

Runs the system as in production: gunicorn `web` with its shipped config (default
WEB_CONCURRENCY), one `klaxon worker` and one `klaxon engine`, so /healthz has real workers and
an engine heartbeat to judge. web reaches Postgres through a switchable proxy
(tests.support.net.BlackholeProxy, over TCP or to the unix socket of the embedded Postgres);
worker and engine connect directly,
so the blackhole is a fault of web's database path alone.

1. wrk -t2 -c10 -d10s --latency on each path: throughput and latency at saturation.
2. A paced 200 req/s open-loop run on each path (target: p99 <= 20 ms), /livez as a baseline
   for the load generator's own overhead.
3. Blackhole: the proxy stops moving bytes; N threads drive /readyz and /healthz back to back
   with a client timeout, while a 5 req/s prober watches /livez. Reported: p99, max, answers
   slower than KLAXON_CHECK_TIMEOUT + 0.2 s, requests that hung (no answer within the client
   timeout), then the time /readyz takes to answer 200 again once the proxy is healed.

Usage: .venv/bin/python bench/health_load.py [--check-timeout 5] [--blackhole-seconds 12]
       [--clients 10] [--blackhole-only]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime

from common import (
    KLAXON,
    WEB_COMMAND,
    BlackholeProxy,
    Figure,
    KlaxonProcess,
    OwnedProcesses,
    Stack,
    blackhole_proxy_for,
    fmt,
    free_port,
    http_get,
    log_events,
    note,
    owned_processes,
    print_table,
    run_benchmark,
    services,
    stop_process,
    wait_for_200,
    wait_stable_200,
)
from loadgen import (
    Sample,
    Summary,
    closed_loop,
    paced,
    run_wrk,
    summarize,
    wrk_available,
)

from config.settings import DEFAULT_CHECK_TIMEOUT

NAME = "health_load"
HEALTH_PATHS = ("/readyz", "/healthz")
# Milliseconds at 200 req/s (README, Health endpoints: cheap under probe storms).
TARGET_P99_MS = 20.0
PACED_RATE = 200.0  # requests per second
PACED_SECONDS = 10.0
BASELINE_SECONDS = 5.0  # the /livez baseline run
WRK_SECONDS = 10
READY_TIMEOUT = 30.0  # seconds for web to answer /readyz 200
HEALTHY_TIMEOUT = 45.0  # seconds for /healthz to see the worker and the engine
SLOW_MARGIN = 0.2  # seconds past the check timeout that still counts as on budget
BLACKHOLE_CLIENTS = 10  # concurrent back-to-back clients while blackholed (like wrk -c10)
LIVEZ_PROBE_RATE = 5.0  # requests/s to /livez while blackholed
LIVENESS_PROBE_TIMEOUT = 1.0  # seconds: Kubernetes' default livenessProbe timeoutSeconds
RECOVERY_TIMEOUT = 60.0  # seconds /readyz may take to recover after the proxy heals


class System:
    """web (through the proxy), one worker and one engine, all owned by `procs`."""

    def __init__(
        self, procs: OwnedProcesses, stack: Stack, proxy: BlackholeProxy, env: dict[str, str]
    ) -> None:
        self.worker = procs.start([KLAXON, "worker"], stack.env(**env), "worker")
        self.engine = procs.start([KLAXON, "engine"], stack.env(**env), "engine")
        self.port = free_port()
        web_env = stack.env(
            **env, DATABASE_URL=stack.database_url_via(proxy.port), PORT=str(self.port)
        )
        self.web = procs.start(WEB_COMMAND, web_env, "web")

    def wait_healthy(self) -> None:
        """Wait until every gunicorn worker answers /healthz 200 (the system is whole)."""
        ready = wait_for_200(self.web, self.port, "/readyz", READY_TIMEOUT)
        if ready.ready is None:
            raise RuntimeError(
                f"web never answered /readyz 200 (last {ready.last_status} "
                f"{ready.last_body[:300]!r}); see {self.web.stderr_path}"
            )
        stable = wait_stable_200(self.web, self.port, "/healthz", HEALTHY_TIMEOUT)
        if stable is None:
            try:
                body = http_get(self.port, "/healthz", 10)[1][:400]
            except OSError as exc:
                body = repr(exc).encode()
            note(f"/healthz not steadily 200 after {HEALTHY_TIMEOUT:g}s: {body!r}")
        else:
            note(f"/healthz steadily 200 from {stable:.1f}s after web started")

    def worker_boots(self) -> int:
        """gunicorn workers booted so far (2 at start; more when max_requests recycles them)."""
        return self.web.stderr().count("Booting worker")

    def stop(self) -> list[list[str]]:
        rows = []
        for name, proc in (("web", self.web), ("worker", self.worker), ("engine", self.engine)):
            seconds, code = stop_process(proc)
            rows.append([name, fmt(seconds), "killed" if code is None else str(code)])
        return rows


# ---------------------------------------------------------------------------- phases


def wrk_phase(system: System) -> list[Figure]:
    if not wrk_available():
        note("wrk not installed: saturation runs skipped")
        return []
    rows = []
    for path in HEALTH_PATHS:
        note(f"wrk -t2 -c10 -d{WRK_SECONDS}s --latency {path}")
        boots, since = system.worker_boots(), time.time()
        result = run_wrk(system.port, path, seconds=WRK_SECONDS)
        gap = longest_pause_ms(system.web, path, since, time.time())
        rows.append(
            [
                path,
                str(result.requests),
                fmt(result.rps, "req/s"),
                fmt(result.p50, "ms"),
                fmt(result.p99, "ms"),
                fmt(result.max, "ms"),
                str(result.non_2xx),
                str(system.worker_boots() - boots),
                fmt(gap, "ms"),
                result.socket_errors,
            ]
        )
    print_table(
        f"wrk -t2 -c10 -d{WRK_SECONDS}s --latency (saturation; latencies in ms)",
        [
            "path",
            "requests",
            "req/s",
            "p50",
            "p99",
            "max",
            "non-2xx",
            "worker restarts",
            "longest pause",
            "socket errors",
        ],
        rows,
    )
    print(
        "  worker restarts: gunicorn workers recycled by max_requests during the run\n"
        "  longest pause: longest time in which web's access log shows no request finished"
    )
    return [Figure(NAME, f"wrk {r[0]} req/s", float(r[2]), "req/s") for r in rows]


def paced_phase(system: System) -> list[Figure]:
    rows, figures = [], []
    runs = [("/livez", BASELINE_SECONDS), *((p, PACED_SECONDS) for p in HEALTH_PATHS)]
    for path, seconds in runs:
        note(f"paced {PACED_RATE:g} req/s for {seconds:g}s: {path}")
        samples = paced(system.port, path, PACED_RATE, seconds)
        summary = summarize(samples)
        rows.append(
            [
                path,
                fmt(_achieved_rate(samples), "req/s"),
                str(summary.requests),
                summary.status_text,
                str(summary.no_answer),
                fmt(summary.p50, "ms"),
                fmt(summary.p99, "ms"),
                fmt(summary.max, "ms"),
                str(summary.late),
            ]
        )
        if path in HEALTH_PATHS:
            figures.append(
                Figure(
                    NAME, f"{path} p99 at {PACED_RATE:g} req/s", summary.p99, "ms", TARGET_P99_MS
                )
            )
    print_table(
        f"Paced {PACED_RATE:g} req/s, open loop, 8 client threads (latencies in ms; "
        "late = sent >5 ms after due)",
        ["path", "req/s", "requests", "statuses", "no answer", "p50", "p99", "max", "late"],
        rows,
    )
    return figures


def _achieved_rate(samples: Sequence[Sample]) -> float:
    if len(samples) < 2:
        return float("nan")
    sent = [s.sent for s in samples]
    return (len(samples) - 1) / (max(sent) - min(sent))


def blackhole_phase(
    system: System, proxy: BlackholeProxy, check_timeout: float, seconds: float, clients: int
) -> list[Figure]:
    client_timeout = max(10.0, 2 * check_timeout)
    slow = check_timeout + SLOW_MARGIN
    paths = [HEALTH_PATHS[i % 2] for i in range(clients)]
    note(
        f"blackholing web's database for {seconds:g}s: {clients} clients on "
        f"/readyz+/healthz, client timeout {client_timeout:g}s; /livez probed at "
        f"{LIVEZ_PROBE_RATE:g} req/s"
    )
    health: list[Sample] = []
    proxy.blackhole()
    started, wall_started = time.monotonic(), time.time()
    driver = threading.Thread(
        target=lambda: health.extend(closed_loop(system.port, paths, seconds, client_timeout)),
        name="blackhole-load",
        daemon=True,
    )
    driver.start()
    livez = paced(
        system.port, "/livez", LIVEZ_PROBE_RATE, seconds, threads=2, timeout=client_timeout
    )
    driver.join(seconds + client_timeout + 10)
    drained, wall_drained = time.monotonic() - started, time.time()
    proxy.heal()
    recovered = _wait_recovered(system)

    rows, summaries = [], {}
    for path in (*HEALTH_PATHS, "/livez"):
        samples = [s for s in (livez if path == "/livez" else health) if s.path == path]
        summary = summarize(samples, LIVENESS_PROBE_TIMEOUT if path == "/livez" else slow)
        summaries[path] = summary
        server = server_max_ms(system.web, path, wall_started, wall_drained)
        rows.append(_blackhole_row(path, samples, summary, started, server))
    print_table(
        f"Database blackholed for {seconds:g}s, {clients} health clients "
        f"(KLAXON_CHECK_TIMEOUT={check_timeout:g}; latencies in ms)",
        [
            "path",
            "requests",
            "statuses",
            "hung",
            "p50",
            "p99",
            "max",
            "app max",
            "slow",
            "first 503 at",
        ],
        rows,
    )
    print(
        f"  slow: answered after more than {slow:g}s (health paths) or "
        f"{LIVENESS_PROBE_TIMEOUT:g}s (/livez, a liveness probe's default timeout)\n"
        f"  hung: no answer within the client timeout of {client_timeout:g}s\n"
        "  app max: longest request time in gunicorn's access log; max minus app max is time\n"
        "           spent outside the app, i.e. queued for a free gunicorn worker thread"
    )
    print(f"  load drained {drained:.1f}s after the blackhole began; proxy healed then")
    print(
        f"  /readyz 200 again {fmt(recovered)}s after heal"
        if recovered is not None
        else f"  /readyz NOT 200 within {RECOVERY_TIMEOUT:g}s after heal"
    )
    return _blackhole_figures(summaries, slow, recovered)


def _blackhole_row(
    path: str, samples: list[Sample], summary: Summary, started: float, server_max: float | None
) -> list[str]:
    first_503 = min(
        (s.sent + (s.latency or 0) - started for s in samples if s.status == 503), default=None
    )
    errors = summary.no_answer - summary.timeouts
    statuses = summary.status_text + (f" {errors} errors" if errors else "")
    return [
        path,
        str(summary.requests),
        statuses,
        str(summary.timeouts),
        fmt(summary.p50, "ms"),
        fmt(summary.p99, "ms"),
        fmt(summary.max, "ms"),
        fmt(server_max, "ms"),
        str(summary.slower_than),
        "-" if first_503 is None else f"{first_503:.2f}s",
    ]


def _blackhole_figures(
    summaries: dict[str, Summary], slow: float, recovered: float | None
) -> list[Figure]:
    figures = []
    for path in HEALTH_PATHS:
        s = summaries[path]
        figures += [
            Figure(NAME, f"blackholed {path} max latency", s.max / 1000, "s", slow),
            Figure(
                NAME, f"blackholed {path} answers slower than {slow:g}s", s.slower_than, "count", 0
            ),
            Figure(NAME, f"blackholed {path} hung requests", s.timeouts, "count", 0),
        ]
    live = summaries["/livez"]
    figures += [
        Figure(
            NAME,
            "blackholed /livez max latency",
            live.max / 1000,
            "s",
            LIVENESS_PROBE_TIMEOUT,
            "target: a liveness probe's default 1 s timeout",
        ),
        Figure(NAME, "/readyz 200 again after heal", recovered, "s"),
    ]
    return figures


def _access(web: KlaxonProcess, path: str, since: float, until: float) -> list[dict[str, object]]:
    """gunicorn access-log events for `path` logged between two wall-clock times."""
    return [
        event
        for event in log_events(web)
        if event.get("event") == "http_request"
        and event.get("path") == path
        and since <= _wall(event.get("timestamp")) <= until
    ]


def server_max_ms(web: KlaxonProcess, path: str, since: float, until: float) -> float | None:
    """The longest duration_ms gunicorn's access log shows for `path` between two wall times."""
    events = _access(web, path, since, until)
    return max((float(str(e["duration_ms"])) for e in events), default=None)


def longest_pause_ms(web: KlaxonProcess, path: str, since: float, until: float) -> float | None:
    """The longest stretch (ms) in which no request for `path` finished, per the access log."""
    ends = sorted(_wall(e.get("timestamp")) for e in _access(web, path, since, until))
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(ends)]
    return max(gaps, default=None)


def _wall(timestamp: object) -> float:
    try:
        return datetime.fromisoformat(str(timestamp)).timestamp()
    except ValueError:
        return float("nan")


def _wait_recovered(system: System) -> float | None:
    healed = time.monotonic()
    while (elapsed := time.monotonic() - healed) < RECOVERY_TIMEOUT:
        try:
            status, _ = http_get(system.port, "/readyz", 5.0)
        except OSError:
            status = None
        if status == 200:
            return elapsed
        time.sleep(0.1)
    return None


# ---------------------------------------------------------------------------- main


def measure(
    check_timeout: float | None, blackhole_seconds: float, clients: int, blackhole_only: bool
) -> list[Figure]:
    env = {} if check_timeout is None else {"KLAXON_CHECK_TIMEOUT": f"{check_timeout:g}"}
    timeout = DEFAULT_CHECK_TIMEOUT if check_timeout is None else check_timeout
    with services("health") as stack, blackhole_proxy_for(stack) as proxy:
        kind = "unix socket" if hasattr(proxy, "socket_path") else "TCP"
        note(f"web -> proxy 127.0.0.1:{proxy.port} -> Postgres ({kind})")
        with owned_processes(stack) as procs:
            system = System(procs, stack, proxy, env)
            system.wait_healthy()
            figures = [] if blackhole_only else wrk_phase(system) + paced_phase(system)
            figures += blackhole_phase(system, proxy, timeout, blackhole_seconds, clients)
            print_table(
                "SIGTERM -> exit after the run (seconds)",
                ["process", "seconds", "exit"],
                system.stop(),
            )
    return figures


def main() -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--check-timeout",
        type=float,
        default=None,
        help="KLAXON_CHECK_TIMEOUT for every process (default: unset, i.e. 5)",
    )
    parser.add_argument(
        "--blackhole-seconds",
        type=float,
        default=12.0,
        help="how long the database stays blackholed (default 12)",
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=BLACKHOLE_CLIENTS,
        help="concurrent health clients while blackholed (default 10)",
    )
    parser.add_argument(
        "--blackhole-only", action="store_true", help="skip the healthy wrk and paced runs"
    )
    args = parser.parse_args()
    return measure(args.check_timeout, args.blackhole_seconds, args.clients, args.blackhole_only)


if __name__ == "__main__":
    sys.exit(run_benchmark(NAME, main))
