"""HTTP load for the health benchmarks: wrk for throughput, Python generators for latencies.

wrk (closed loop, as fast as it can) measures throughput and its latency distribution. It has
no rate limit, so two Python generators record every request instead:
- `paced`: open loop at a fixed rate, each request sent at its scheduled time (lateness is
  recorded, so a saturated client cannot hide slow answers — no coordinated omission);
- `closed_loop`: N threads, each sending its next request as soon as the last one ended, with
  a per-request timeout, so a request that hangs is counted as hung.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import math
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from common import percentile

JOIN_GRACE = 5.0  # seconds beyond duration + request timeout a generator thread may take
WRK_GRACE = 15.0  # seconds beyond its duration before a wrk run is killed
STALE_CONNECTION_ERRORS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclass
class Sample:
    """One request: when it was due and sent (monotonic), its latency and outcome."""

    path: str
    due: float
    sent: float
    latency: float | None  # seconds; None when no answer (timeout or error)
    status: int | None
    error: str | None = None


class Client:
    """One keep-alive connection to 127.0.0.1:`port`, reopened after any failure."""

    def __init__(self, port: int, timeout: float, headers: dict[str, str] | None = None) -> None:
        self.port = port
        self.timeout = timeout
        self.headers = headers or {}
        self._conn: http.client.HTTPConnection | None = None
        self.stale_retries = 0

    def get(self, path: str, due: float) -> Sample:
        return self.send("GET", path, due)

    def send(self, method: str, path: str, due: float, body: bytes | None = None) -> Sample:
        """One request; a connection the server closed while idle is retried once, as any
        HTTP client does (gunicorn closes idle keep-alives and recycles workers)."""
        sent = time.monotonic()
        for attempt in range(2):
            reused = self._conn is not None
            try:
                status = self._request(method, path, body)
                return Sample(path, due, sent, time.monotonic() - sent, status)
            except STALE_CONNECTION_ERRORS as exc:
                self.close()
                if reused and attempt == 0:
                    self.stale_retries += 1
                    continue
                error = type(exc).__name__
            except TimeoutError:
                self.close()
                error = "timeout"
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                error = type(exc).__name__
            return Sample(path, due, sent, None, None, error)
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, body: bytes | None) -> int:
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        self._conn.request(method, path, body=body, headers=self.headers)
        response = self._conn.getresponse()
        response.read()
        if response.will_close:
            self.close()
        return response.status

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def paced(
    port: int, path: str, rate: float, duration: float, threads: int = 8, timeout: float = 10.0
) -> list[Sample]:
    """GET `path` at `rate` requests/s for `duration` s, open loop, from `threads` threads."""
    start = time.monotonic() + 0.05
    total = int(rate * duration)
    counter = itertools.count()
    lock = threading.Lock()
    samples: list[Sample] = []

    def run() -> None:
        client = Client(port, timeout)
        try:
            while True:
                with lock:
                    index = next(counter)
                if index >= total:
                    return
                due = start + index / rate
                time.sleep(max(0.0, due - time.monotonic()))
                sample = client.get(path, due)
                with lock:
                    samples.append(sample)
        finally:
            client.close()

    _run_threads([run] * threads, duration + timeout + JOIN_GRACE)
    return samples


def closed_loop(port: int, paths: Sequence[str], duration: float, timeout: float) -> list[Sample]:
    """One thread per entry of `paths`, each sending back-to-back GETs for `duration` s."""
    end = time.monotonic() + duration
    lock = threading.Lock()
    samples: list[Sample] = []

    def run_for(path: str) -> None:
        client = Client(port, timeout)
        try:
            while (now := time.monotonic()) < end:
                sample = client.get(path, now)
                with lock:
                    samples.append(sample)
        finally:
            client.close()

    _run_threads([lambda p=path: run_for(p) for path in paths], duration + timeout + JOIN_GRACE)
    return samples


def _run_threads(targets: Sequence[object], timeout: float) -> None:
    """Run each callable in a daemon thread; wait for all of them, at most `timeout` s."""
    threads = [
        threading.Thread(target=t, name=f"load-{i}", daemon=True)  # type: ignore[arg-type]
        for i, t in enumerate(targets)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


@dataclass
class Summary:
    """Latency figures of a set of samples; latencies in milliseconds."""

    requests: int
    ok: int  # 200
    unavailable: int  # 503
    other_status: int
    no_answer: int  # timeouts and connection errors
    timeouts: int  # no answer within the client timeout: hung
    p50: float
    p99: float
    max: float
    slower_than: int  # answered, but slower than the threshold given to summarize()
    late: int  # paced only: sent more than 5 ms after their due time

    @property
    def status_text(self) -> str:
        parts = [f"{self.ok}x200"]
        if self.unavailable:
            parts.append(f"{self.unavailable}x503")
        if self.other_status:
            parts.append(f"{self.other_status} other")
        return " ".join(parts)


LATE_LIMIT = 0.005  # seconds; a paced request sent later than this was held up by the client


def summarize(samples: Sequence[Sample], slow_threshold: float = math.inf) -> Summary:
    answered = [s.latency * 1000 for s in samples if s.latency is not None]
    statuses = [s.status for s in samples if s.status is not None]
    return Summary(
        requests=len(samples),
        ok=statuses.count(200),
        unavailable=statuses.count(503),
        other_status=sum(1 for s in statuses if s not in (200, 503)),
        no_answer=sum(1 for s in samples if s.latency is None),
        timeouts=sum(1 for s in samples if s.error == "timeout"),
        p50=percentile(answered, 50),
        p99=percentile(answered, 99),
        max=max(answered) if answered else math.nan,
        slower_than=sum(1 for ms in answered if ms > slow_threshold * 1000),
        late=sum(1 for s in samples if s.sent - s.due > LATE_LIMIT),
    )


# ---------------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    requests: int
    rps: float
    p50: float  # milliseconds
    p99: float
    max: float
    non_2xx: int
    socket_errors: str


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(match.group(1)) * _UNITS_MS[match.group(2)] if match else math.nan


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    port: int,
    path: str,
    threads: int = 2,
    connections: int = 10,
    seconds: int = 10,
    script: str | None = None,
    script_args: Sequence[str] = (),
) -> WrkResult:
    """`wrk -t -c -d --latency` against `path`, optionally with a Lua `script` (and its
    arguments); the wrk process is killed if it overruns."""
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        args += ["-s", script]
    args.append(f"http://127.0.0.1:{port}{path}")
    if script_args:
        args += ["--", *script_args]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True
    )
    try:
        output, _ = proc.communicate(timeout=seconds + WRK_GRACE)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    return parse_wrk(output)


def parse_wrk(output: str) -> WrkResult:
    def find(pattern: str, default: str = "") -> str:
        match = re.search(pattern, output, re.MULTILINE)
        return match.group(1) if match else default

    latency_max = find(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)")
    errors = find(r"Socket errors: (.*)$", "none")
    return WrkResult(
        requests=int(find(r"(\d+) requests in", "0")),
        rps=float(find(r"Requests/sec:\s+([\d.]+)", "nan")),
        p50=_ms(find(r"^\s+50%\s+(\S+)")),
        p99=_ms(find(r"^\s+99%\s+(\S+)")),
        max=_ms(latency_max),
        non_2xx=int(find(r"Non-2xx or 3xx responses: (\d+)", "0")),
        socket_errors=errors,
    )
