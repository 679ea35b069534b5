"""gunicorn `web` start to first 200 from /readyz (target: median <= 3 s), and SIGTERM to exit.

Each run starts the production command (`gunicorn --config config/gunicorn.conf.py
"app:create_app()"`, default WEB_CONCURRENCY) on a free port against a migrated database, polls
/readyz every 10 ms, then sends SIGTERM and times the exit. One warm-up start is reported
separately and not counted. Usage: .venv/bin/python bench/web_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import sys

from common import (
    WEB_COMMAND,
    Figure,
    OwnedProcesses,
    Stack,
    fmt,
    free_port,
    median,
    note,
    owned_processes,
    print_table,
    run_benchmark,
    services,
    stop_process,
    wait_for_200,
    wait_stable_200,
)

NAME = "web_start"
TARGET_READY = 3.0  # seconds from exec to the first 200 from /readyz
START_TIMEOUT = 30.0  # seconds a start may take before the run is abandoned
STOP_BUDGET = 30.0  # seconds Heroku allows between SIGTERM and SIGKILL


def one_start(procs: OwnedProcesses, stack: Stack, label: str) -> dict[str, float | None]:
    """Start web, wait for /readyz 200, SIGTERM it; return the timings of that run."""
    port = free_port()
    proc = procs.start(WEB_COMMAND, stack.env(PORT=str(port)), label)
    timing = wait_for_200(proc, port, "/readyz", START_TIMEOUT)
    stable = wait_stable_200(proc, port, "/readyz", START_TIMEOUT) if timing.ready else None
    if timing.ready is None:
        note(
            f"{label}: no 200 within {START_TIMEOUT:g}s (last status {timing.last_status}, "
            f"body {timing.last_body[:300]!r}); see {proc.stderr_path}"
        )
    if timing.not_ready_answers:
        note(
            f"{label}: first non-200 /readyz before ready: {_failing(timing.first_not_ready_body)}"
        )
    stop_seconds, code = stop_process(proc, STOP_BUDGET)
    if code is None:
        note(f"{label}: still running {STOP_BUDGET:g}s after SIGTERM; killed")
    return {
        "bound": timing.bound,
        "ready": timing.ready,
        "stable": stable,
        "stop": stop_seconds if code is not None else None,
        "not_ready": timing.not_ready_answers,
        "exit_code": code,
    }


def measure(runs: int) -> list[Figure]:
    with services("web") as stack, owned_processes(stack) as procs:
        note("warm-up start (excluded)")
        warm = one_start(procs, stack, "web-warmup")
        results = []
        for i in range(runs):
            result = one_start(procs, stack, "web")
            results.append(result)
            note(
                f"run {i + 1}/{runs}: ready {fmt(result['ready'])}s, "
                f"SIGTERM->exit {fmt(result['stop'])}s (exit {result['exit_code']})"
            )

    rows = [[f"run {i + 1}", *_cells(r)] for i, r in enumerate(results)] + [
        ["warm-up (excluded)", *_cells(warm)]
    ]
    print_table(
        "gunicorn web start and stop (seconds from exec)",
        [
            "run",
            "port bound",
            "/readyz 200",
            "bound->200",
            "503s first",
            "only 200s from",
            "SIGTERM->exit",
            "exit",
        ],
        rows,
    )
    ready = [r["ready"] for r in results if r["ready"] is not None]
    stops = [r["stop"] for r in results if r["stop"] is not None]
    bound = [r["bound"] for r in results if r["bound"] is not None]
    stable = [r["stable"] for r in results if r["stable"] is not None]
    print_table(
        f"Summary over {runs} runs (seconds)",
        ["measure", "median", "min", "max"],
        [
            ["exec -> port bound (preflight done)", *_stats(bound)],
            ["exec -> first /readyz 200", *_stats(ready)],
            ["exec -> /readyz only 200 (every worker ready)", *_stats(stable)],
            ["SIGTERM -> exit", *_stats(stops)],
        ],
    )
    failed = runs - len(ready)
    return [
        Figure(
            NAME,
            "web start -> /readyz 200, median",
            median(ready) if ready else None,
            "s",
            TARGET_READY,
            f"{failed} runs never ready" if failed else "",
        ),
        Figure(NAME, "web SIGTERM -> exit, median", median(stops) if stops else None, "s"),
        Figure(NAME, "web SIGTERM -> exit, max", max(stops) if stops else None, "s", STOP_BUDGET),
    ]


def _failing(body: bytes) -> str:
    """The failing checks of a health body, as `name: output`."""
    try:
        checks = json.loads(body)["checks"]
    except (ValueError, KeyError, TypeError):
        return repr(body[:200])
    failing = [
        f"{name}: {entries[0].get('output')}"
        for name, entries in checks.items()
        if entries[0].get("status") != "pass"
    ]
    return "; ".join(failing) or "(no failing check)"


def _cells(result: dict[str, float | None]) -> list[str]:
    bound, ready = result["bound"], result["ready"]
    gap = ready - bound if bound is not None and ready is not None else None
    code = result["exit_code"]
    return [
        fmt(bound),
        fmt(ready),
        fmt(gap),
        str(result["not_ready"]),
        fmt(result["stable"]),
        fmt(result["stop"]),
        "killed" if code is None else str(code),
    ]


def _stats(values: list[float]) -> list[str]:
    if not values:
        return ["-", "-", "-"]
    return [fmt(median(values)), fmt(min(values)), fmt(max(values))]


def main() -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="timed starts (default 5)")
    return measure(parser.parse_args().runs)


if __name__ == "__main__":
    sys.exit(run_benchmark(NAME, main))
