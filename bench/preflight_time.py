"""`klaxon preflight` wall time with healthy local services (target: median <= 1.0 s).

Runs the real `.venv/bin/klaxon preflight --json` as a subprocess, so interpreter start and
imports are included. The first run migrates the fresh database and is reported separately,
not counted. Usage: .venv/bin/python bench/preflight_time.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from common import (
    KLAXON,
    Figure,
    KlaxonProcess,
    OwnedProcesses,
    fmt,
    median,
    note,
    owned_processes,
    print_table,
    run_benchmark,
    services,
    wait_exit,
)

NAME = "preflight_time"
TARGET = 1.0  # seconds, median wall time (the preflight must not slow every start)
RUN_TIMEOUT = 30.0  # seconds one healthy preflight may take before it is killed
CHECKS = ("database", "schema", "redis", "listener")


def timed_preflight(procs: OwnedProcesses, env: dict[str, str]) -> tuple[float, dict[str, object]]:
    """(wall seconds, the --json report) of one `klaxon preflight` run."""
    proc = procs.start([KLAXON, "preflight", "--json"], env, "preflight")
    code = wait_exit(proc, RUN_TIMEOUT)
    wall = time.monotonic() - proc.started
    if code != 0:
        raise RuntimeError(f"klaxon preflight exited {code}; see {proc.stderr_path}")
    return wall, json.loads(proc.stdout())


def timed_interpreter(procs: OwnedProcesses, env: dict[str, str]) -> float:
    """Wall seconds of a bare `python -c pass`, the floor under any CLI command."""
    proc: KlaxonProcess = procs.start([sys.executable, "-c", "pass"], env, "python")
    wait_exit(proc, RUN_TIMEOUT)
    return time.monotonic() - proc.started


def measure(runs: int) -> list[Figure]:
    with services("preflight", migrate=False) as stack, owned_processes(stack) as procs:
        env = stack.env()
        note("first run: migrates the fresh database (excluded)")
        first_wall, _ = timed_preflight(procs, env)
        walls: list[float] = []
        internal: list[float] = []
        per_check: dict[str, list[float]] = {name: [] for name in CHECKS}
        for i in range(runs):
            wall, report = timed_preflight(procs, env)
            walls.append(wall)
            internal.append(float(report["duration_ms"]) / 1000)  # type: ignore[arg-type]
            for check in report["checks"]:  # type: ignore[attr-defined]
                if check["check"] in per_check:
                    per_check[check["check"]].append(check["duration_ms"])
            note(f"run {i + 1}/{runs}: {wall:.3f}s")
        bare = median([timed_interpreter(procs, env) for _ in range(5)])

    overhead = [w - i for w, i in zip(walls, internal, strict=True)]
    print_table(
        f"klaxon preflight, healthy services, {runs} runs (seconds)",
        ["measure", "median", "min", "max"],
        [
            ["wall time (process start to exit)", *_stats(walls)],
            ["  checks (report duration_ms)", *_stats(internal)],
            ["  interpreter, imports, exit", *_stats(overhead)],
            ["bare `python -c pass` (5 runs)", fmt(bare), "", ""],
            ["first run, migrating (excluded)", fmt(first_wall), "", ""],
        ],
    )
    print_table(
        "Per check (ms)",
        ["check", "median", "min", "max"],
        [[name, *_stats(values, "ms")] for name, values in per_check.items()],
    )
    return [
        Figure(NAME, "preflight wall time, median", median(walls), "s", TARGET),
        Figure(NAME, "preflight wall time, max", max(walls), "s"),
    ]


def _stats(values: list[float], unit: str = "s") -> list[str]:
    return [fmt(median(values), unit), fmt(min(values), unit), fmt(max(values), unit)]


def main() -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10, help="timed runs (default 10)")
    return measure(parser.parse_args().runs)


if __name__ == "__main__":
    sys.exit(run_benchmark(NAME, main))
