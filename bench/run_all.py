"""Run every benchmark in sequence, each as its own process, then print one summary table.

Usage: .venv/bin/python bench/run_all.py [name ...]   (default: all, in the order below)

Each benchmark prints its own tables as it goes and appends its headline figures to a file
named by BENCH_SUMMARY_FILE; a benchmark that overruns is stopped (SIGTERM, so it cleans up,
then SIGKILL). Figures are printed, never asserted: the exit status is non-zero only when a
benchmark could not run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import SUMMARY_ENV, Figure, fmt, print_table

BENCH = Path(__file__).resolve().parent
BENCHMARKS = (
    "preflight_time",
    "web_start",
    "tarpit_exit",
    "health_load",
    "ingest_load",
    "hostile_mix",
    "auth_cost",
    "oncall_compute",
    "page_latency",
    "delivery_throughput",
    "alert_storm",
    "web_pages",
    "deploy_figures",
)
BENCHMARK_TIMEOUT = 300.0  # seconds one benchmark may run before it is stopped
CLEANUP_GRACE = 30.0  # seconds a stopped benchmark gets to stop what it started


def run_one(name: str, summary: Path) -> tuple[int | None, float]:
    """Run bench/<name>.py; return (exit status or None if it overran, seconds)."""
    env = {**os.environ, SUMMARY_ENV: str(summary)}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / f"{name}.py")], env=env, start_new_session=True
    )
    try:
        code: int | None = proc.wait(BENCHMARK_TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"!! {name} overran {BENCHMARK_TIMEOUT:g}s; stopping it", flush=True)
        code = None
    finally:
        _stop(proc)
    return code, time.monotonic() - started


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the benchmark (it unwinds and stops its own processes), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(CLEANUP_GRACE)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def read_figures(summary: Path) -> list[Figure]:
    if not summary.exists():
        return []
    return [Figure(**json.loads(line)) for line in summary.read_text().splitlines() if line]


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _interrupt)  # unwind, so the running benchmark is stopped
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    runs: list[list[str]] = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp:
        summary = Path(tmp) / "figures.jsonl"
        for name in names:
            code, seconds = run_one(name, summary)
            failed = failed or code != 0
            runs.append([name, "overran" if code is None else str(code), f"{seconds:.1f}"])
            print(flush=True)
        figures = read_figures(summary)
    print("=" * 100)
    print_table("Benchmarks run", ["benchmark", "exit", "seconds"], runs)
    print_table(
        "Summary (figures are printed, never asserted)",
        ["benchmark", "figure", "value", "unit", "target", ""],
        [
            [
                f.benchmark,
                f.metric,
                fmt(f.value, f.unit),
                f.unit,
                "" if f.target is None else f"<= {fmt(f.target, f.unit)}",
                f.verdict + (f" ({f.note})" if f.note else ""),
            ]
            for f in figures
        ],
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
