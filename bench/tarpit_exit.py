"""Tarpit database -> process exit, per process type (target: <= KLAXON_CHECK_TIMEOUT + 1 s).

DATABASE_URL points at a tarpit (tests.support.net.Tarpit: the kernel completes the TCP
handshake, nothing ever answers); Redis is real, so worker and engine can leave their fatal
report. KLAXON_CHECK_TIMEOUT is left unset, i.e. its default of 5 s. Each run times exec to
exit, interpreter start included ("check": the failing check's own duration from its log line;
"rest": everything else — interpreter start, imports, other checks, exit); for web it also
watches whether the port was ever bound.
Usage: .venv/bin/python bench/tarpit_exit.py [--runs 2]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass

from common import (
    KLAXON,
    WEB_COMMAND,
    Figure,
    OwnedProcesses,
    Stack,
    Tarpit,
    failed_check,
    failure_reason,
    fmt,
    free_port,
    note,
    owned_processes,
    port_accepts,
    print_table,
    redis_only,
    run_benchmark,
    wait_exit,
)

from app.platform.redis_client import make_redis
from config.settings import DEFAULT_CHECK_TIMEOUT, RedisTls

NAME = "tarpit_exit"
TARGET = DEFAULT_CHECK_TIMEOUT + 1.0  # seconds: one check timeout plus start and exit
RUN_TIMEOUT = 60.0  # seconds before a process that has not exited is killed (a hang)
PORT_POLL = 0.05  # seconds between checks of whether web bound its port

COMMANDS = {
    "klaxon preflight": [KLAXON, "preflight"],
    "klaxon worker": [KLAXON, "worker"],
    "klaxon engine": [KLAXON, "engine"],
    "gunicorn web": WEB_COMMAND,
}


class PortWatch:
    """Notes whether anything accepts connections on `port` while a process runs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bound = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="port-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(PORT_POLL):
            if port_accepts(self.port):
                self.bound = True

    def stop(self) -> bool:
        self._done.set()
        self._thread.join(2)
        return self.bound


@dataclass
class RunResult:
    label: str
    seconds: float | None  # None: still running at RUN_TIMEOUT, killed
    exit_code: int | None
    port_bound: bool | None  # web only
    check_seconds: float | None  # how long the failing check took, from its log line
    reason: str

    def row(self) -> list[str]:
        hung = self.seconds is None
        return [
            self.label,
            f">{RUN_TIMEOUT:g} (killed)" if hung else fmt(self.seconds),
            "hung" if hung else str(self.exit_code),
            fmt(self.check_seconds),
            fmt(None if hung or self.check_seconds is None else self.seconds - self.check_seconds),
            "-" if self.port_bound is None else ("YES" if self.port_bound else "no"),
            self.reason.split(" — ")[0][:90],
        ]


def one_run(procs: OwnedProcesses, stack: Stack, label: str, command: list[str]) -> RunResult:
    """Start `command` against a fresh tarpit and time it until it exits."""
    port = free_port()
    with Tarpit() as pit:
        env = stack.env(DATABASE_URL=f"postgresql://klaxon@127.0.0.1:{pit.port}/klaxon")
        env["PORT"] = str(port)
        watch = PortWatch(port) if command is WEB_COMMAND else None
        proc = procs.start(command, env, label.replace(" ", "-"))
        code = wait_exit(proc, RUN_TIMEOUT)
        seconds = time.monotonic() - proc.started
        bound = watch.stop() if watch else None
    check = failed_check(proc)
    check_ms = check.get("duration_ms") if check else None
    result = RunResult(
        label,
        seconds if code is not None else None,
        code,
        bound,
        float(check_ms) / 1000 if isinstance(check_ms, int | float) else None,
        failure_reason(proc),
    )
    note(f"{label}: {result.row()[1]}s, exit {result.row()[2]}")
    return result


def clear_fatal_reports(stack: Stack) -> None:
    """Remove the klaxon:fatal:* reports these runs left (they live 24 h otherwise)."""
    client = make_redis(stack.redis_url, 5, RedisTls())
    try:
        for key in client.scan_iter(match=f"klaxon:fatal:*:{stack.instance}"):
            client.delete(key)
    finally:
        client.close()


def measure(runs: int) -> list[Figure]:
    results: list[RunResult] = []
    with redis_only("tarpit") as stack, owned_processes(stack) as procs:
        try:
            for label, command in COMMANDS.items():
                results.extend(one_run(procs, stack, label, command) for _ in range(runs))
        finally:
            clear_fatal_reports(stack)
    print_table(
        f"Tarpit database -> exit (KLAXON_CHECK_TIMEOUT={DEFAULT_CHECK_TIMEOUT:g}, default; "
        f"target <= {TARGET:g} s)",
        ["process", "seconds", "exit", "check", "rest", "port bound", "first failed check"],
        [r.row() for r in results],
    )
    figures = []
    for label in COMMANDS:
        times = [r.seconds for r in results if r.label == label]
        worst = None if None in times else max(t for t in times if t is not None)
        figures.append(
            Figure(
                NAME,
                f"{label}: tarpit -> exit, worst of {runs}",
                worst,
                "s",
                TARGET,
                "hung" if worst is None else "",
            )
        )
    return figures


def main() -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2, help="runs per process type (default 2)")
    return measure(parser.parse_args().runs)


if __name__ == "__main__":
    sys.exit(run_benchmark(NAME, main))
