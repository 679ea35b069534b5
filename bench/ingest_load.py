"""Ingest throughput and latency through the generic endpoint (POST /api/v2/generic/incoming).

Runs web as in production: gunicorn with its shipped config (default WEB_CONCURRENCY, access
log on), one service with a generic integration key sent as `Authorization: Bearer`. The load
generators run on the same machine.

1. wrk (closed loop, Lua script for POST bodies), new alerts: every request a unique summary,
   so each one inserts an alert (+ log entry, NOTIFY) and commits: new alerts/s, p50/p99.
2. wrk, deduplicated repeats: every request the same `dedup` key, so each one bumps the open
   alert's duplicate count (+ log entry, NOTIFY): repeats/s, p50/p99.
3. A paced open-loop Python generator at 300 req/s (each request sent at its due time, lateness
   recorded) for new alerts and for repeats: p50/p99 (target p99 <= 50 ms).

After each phase the alert rows are counted, so a figure never hides lost writes.

Usage: .venv/bin/python bench/ingest_load.py [--seconds 10] [--connections 16] [--rate 300]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import resource
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg
from common import (
    WEB_COMMAND,
    Figure,
    Stack,
    fmt,
    free_port,
    note,
    owned_processes,
    print_table,
    run_benchmark,
    services,
    stop_process,
    wait_for_200,
)
from loadgen import (
    Client,
    Sample,
    WrkResult,
    _run_threads,
    run_wrk,
    summarize,
    wrk_available,
)
from psycopg.rows import dict_row

from app.directory import services as directory_services

NAME = "ingest_load"
PATH = "/api/v2/generic/incoming"
TARGET_NEW_PER_S = 1000.0  # new alerts per second (issue 3)
TARGET_DEDUP_PER_S = 2000.0  # deduplicated repeats per second (issue 3)
TARGET_P99_MS = 50.0  # milliseconds at the paced rate (issue 3)
READY_TIMEOUT = 30.0  # seconds for web to answer /readyz 200
PACED_THREADS = 16  # client threads of the paced generator; enough to never run late at 300/s
CLIENT_TIMEOUT = 10.0  # seconds one paced request may take before it counts as hung

LUA = """
-- One request body per call: a unique summary ("new") or the same dedup key ("dedup").
local counter = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  mode, token, nonce = args[1], args[2], args[3]
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}
end

function request()
  counter = counter + 1
  local body
  if mode == "new" then
    body = '{"summary":"wrk ' .. nonce .. ' ' .. tid .. '-' .. counter ..
           '","details":"disk /var at 97% on db-' .. counter .. '"}'
  else
    body = '{"summary":"wrk repeat","details":"the same alert","dedup":"wrk-' .. nonce .. '"}'
  end
  return wrk.format("POST", nil, headers, body)
end
"""


# ---------------------------------------------------------------------------- setup


def make_token(stack: Stack) -> str:
    """A service with a generic integration key; its token."""
    with psycopg.connect(
        stack.database_url, autocommit=True, connect_timeout=10, row_factory=dict_row
    ) as conn:
        created = directory_services.create_service_with_key(conn, "bench", "http://localhost")
    return str(created["integration_key"]["token"])


def alert_counts(stack: Stack) -> tuple[int, int]:
    """(alerts, sum of duplicate counts) in the run's database."""
    with psycopg.connect(stack.database_url, connect_timeout=10) as conn:
        row = conn.execute("SELECT count(*), coalesce(sum(duplicate_count), 0) FROM alerts")
        count, dups = row.fetchone() or (0, 0)
    return int(count), int(dups)


# ---------------------------------------------------------------------------- CPU accounting


class CpuMeter:
    """CPU seconds used by web (gunicorn and its workers), the run's Postgres backends and the
    load generator (this script and its finished children: wrk), between start() and stop().

    Throughput on a shared 2-core machine depends on whatever else runs; CPU per request
    does not (much), and says where the time goes.
    """

    def __init__(self, web_pid: int, database: str) -> None:
        self.web_pid = web_pid
        self.database = database
        self._start: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        web = 0.0
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.web_pid)
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = proc.cpu_times()
                    web += times.user + times.system
        postgres = 0.0
        for proc in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                cmdline = " ".join(proc.info["cmdline"] or [])
                if cmdline.startswith("postgres:") and f" {self.database} " in cmdline:
                    times = proc.cpu_times()
                    postgres += times.user + times.system
        loadgen = 0.0
        for who in (resource.RUSAGE_CHILDREN, resource.RUSAGE_SELF):
            usage = resource.getrusage(who)
            loadgen += usage.ru_utime + usage.ru_stime
        return {"web": web, "postgres": postgres, "load generator": loadgen}

    def start(self) -> None:
        self._start = self._sample()

    def stop(self, requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request, by process group."""
        end = self._sample()
        return {k: (end[k] - self._start[k]) * 1000 / max(requests, 1) for k in end}


def cpu_cells(per_request: dict[str, float]) -> list[str]:
    total = sum(per_request.values())
    capacity = (os.cpu_count() or 1) * 1000 / total if total else float("nan")
    return [*(f"{v:.2f}" for v in per_request.values()), f"{total:.2f}", f"{capacity:.0f}"]


CPU_HEADERS = ["web", "postgres", "loadgen", "total", "cores/total"]
CPU_NOTE = (
    "  CPU ms per request: web = gunicorn and its workers, postgres = this run's backends\n"
    "  (a local Postgres only), loadgen = wrk or this script; cores/total = the request rate\n"
    "  all cores could sustain at that cost with nothing else running"
)


# ---------------------------------------------------------------------------- wrk


def run_wrk_post(
    port: int, mode: str, token: str, seconds: int, connections: int, threads: int = 2
) -> WrkResult:
    """wrk with the Lua body generator; killed if it overruns."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    try:
        return run_wrk(
            port,
            PATH,
            threads,
            connections,
            seconds,
            script=script.name,
            script_args=(mode, token, secrets.token_hex(4)),
        )
    finally:
        Path(script.name).unlink(missing_ok=True)


def wrk_phase(
    stack: Stack, meter: CpuMeter, port: int, token: str, seconds: int, connections: int
) -> list[Figure]:
    if not wrk_available():
        note("wrk not installed: saturation runs skipped")
        return []
    rows, cpu_rows, figures = [], [], []
    for mode, label, target in (
        ("new", "new alerts", TARGET_NEW_PER_S),
        ("dedup", "deduplicated repeats", TARGET_DEDUP_PER_S),
    ):
        before = alert_counts(stack)
        note(f"wrk -t2 -c{connections} -d{seconds}s --latency: {label}")
        meter.start()
        result = run_wrk_post(port, mode, token, seconds, connections)
        cpu = meter.stop(result.requests)
        after = alert_counts(stack)
        written = (after[0] - before[0]) if mode == "new" else (after[1] - before[1])
        rows.append(
            [
                label,
                str(result.requests),
                fmt(result.rps, "req/s"),
                fmt(result.p50, "ms"),
                fmt(result.p99, "ms"),
                fmt(result.max, "ms"),
                str(result.non_2xx),
                str(written),
                result.socket_errors,
            ]
        )
        cpu_rows.append([label, *cpu_cells(cpu)])
        verdict = "met" if result.rps >= target else "MISSED"
        figures += [
            Figure(
                NAME,
                f"wrk {label}/s",
                result.rps,
                "req/s",
                None,
                f"target >= {target:g}: {verdict}",
            ),
            Figure(NAME, f"wrk {label} p50", result.p50, "ms"),
            Figure(NAME, f"wrk {label} p99", result.p99, "ms"),
            Figure(NAME, f"wrk {label} CPU per request", sum(cpu.values()), "ms"),
        ]
    print_table(
        f"wrk -t2 -c{connections} -d{seconds}s --latency, POST {PATH} (latencies in ms)",
        [
            "load",
            "requests",
            "req/s",
            "p50",
            "p99",
            "max",
            "non-2xx",
            "rows written",
            "socket errors",
        ],
        rows,
    )
    print(
        "  rows written: new alerts inserted (new) or duplicate counts added (repeats) during\n"
        "  the run, counted in Postgres; it should equal requests minus non-2xx"
    )
    print_table("CPU per request during the wrk runs (ms)", ["load", *CPU_HEADERS], cpu_rows)
    print(CPU_NOTE)
    return figures


# ---------------------------------------------------------------------------- paced


def paced_post(
    port: int, token: str, body_for: Callable[[int], bytes], rate: float, duration: float
) -> list[Sample]:
    """POST body_for(i) at `rate` requests/s for `duration` s, open loop (no omission)."""
    start = time.monotonic() + 0.05
    total = int(rate * duration)
    counter = itertools.count()
    lock = threading.Lock()
    samples: list[Sample] = []

    def run() -> None:
        client = Client(
            port,
            CLIENT_TIMEOUT,
            {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            while True:
                with lock:
                    index = next(counter)
                if index >= total:
                    return
                due = start + index / rate
                time.sleep(max(0.0, due - time.monotonic()))
                sample = client.send("POST", PATH, due, body_for(index))
                with lock:
                    samples.append(sample)
        finally:
            client.close()

    _run_threads([run] * PACED_THREADS, duration + CLIENT_TIMEOUT + 5)
    return samples


def paced_phase(
    meter: CpuMeter, port: int, token: str, rate: float, seconds: float
) -> list[Figure]:
    nonce = secrets.token_hex(4)
    loads: dict[str, Callable[[int], bytes]] = {
        "new alerts": lambda i: json.dumps(
            {"summary": f"paced {nonce} {i}", "details": f"disk /var at 97% on db-{i}"}
        ).encode(),
        "deduplicated repeats": lambda i: json.dumps(
            {"summary": "paced repeat", "details": "the same alert", "dedup": f"paced-{nonce}"}
        ).encode(),
    }
    rows, cpu_rows, figures = [], [], []
    for label, body_for in loads.items():
        note(f"paced {rate:g} req/s for {seconds:g}s: {label}")
        meter.start()
        samples = paced_post(port, token, body_for, rate, seconds)
        cpu_rows.append([label, *cpu_cells(meter.stop(len(samples)))])
        summary = summarize(samples)
        statuses = {s.status for s in samples}
        rows.append(
            [
                label,
                str(summary.requests),
                ", ".join(
                    f"{sum(s.status == c for s in samples)}x{c}" for c in sorted(statuses, key=str)
                ),
                str(summary.no_answer),
                fmt(summary.p50, "ms"),
                fmt(summary.p99, "ms"),
                fmt(summary.max, "ms"),
                str(summary.late),
            ]
        )
        figures.append(
            Figure(NAME, f"{label} p99 at {rate:g} req/s", summary.p99, "ms", TARGET_P99_MS)
        )
    print_table(
        f"Paced {rate:g} req/s, open loop, {PACED_THREADS} client threads (latencies in ms; "
        "late = sent >5 ms after due)",
        ["load", "requests", "statuses", "no answer", "p50", "p99", "max", "late"],
        rows,
    )
    print_table(f"CPU per request at {rate:g} req/s (ms)", ["load", *CPU_HEADERS], cpu_rows)
    return figures


# ---------------------------------------------------------------------------- main


def measure(seconds: int, connections: int, rate: float, paced_seconds: float) -> list[Figure]:
    with services("ingest") as stack, owned_processes(stack) as procs:
        token = make_token(stack)
        port = free_port()
        web = procs.start(WEB_COMMAND, stack.env(PORT=str(port)), "web")
        ready = wait_for_200(web, port, "/readyz", READY_TIMEOUT)
        if ready.ready is None:
            raise RuntimeError(f"web never answered /readyz 200; see {web.stderr_path}")
        note(f"web ready after {ready.ready:.2f}s (WEB_CONCURRENCY default, production config)")
        database = urlsplit(stack.database_url).path.lstrip("/")
        meter = CpuMeter(web.pid, database)
        figures = wrk_phase(stack, meter, port, token, seconds, connections)
        figures += paced_phase(meter, port, token, rate, paced_seconds)
        stopped, code = stop_process(web)
        note(f"web stopped {stopped:.1f}s after SIGTERM, exit {code}")
    return figures


def main() -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--rate", type=float, default=300.0, help="paced req/s (default 300)")
    parser.add_argument(
        "--paced-seconds", type=float, default=10.0, help="each paced run (default 10)"
    )
    args = parser.parse_args()
    return measure(args.seconds, args.connections, args.rate, args.paced_seconds)


if __name__ == "__main__":
    sys.exit(run_benchmark(NAME, main))
