"""On-call computation, pure CPU (no database, no servers).

1. Shifts for one year of a schedule with 10 rules, 3 rotations of 8 participants and 200
   overrides (target: median <= 50 ms).
2. "Who is on call now" for 1,000 services: 1,000 schedules of 3 rules each over 30 shared
   rotations, one `on_call_now` per schedule (target: total <= 100 ms).

Usage: .venv/bin/python bench/oncall_compute.py [--runs 20]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock

from common import Figure, fmt, median, print_table, run_benchmark

from app.oncall.compute import on_call_now, schedule_shifts
from app.oncall.model import Override, Rotation, Rule, Schedule

NAME = "oncall_compute"
YEAR_TARGET_MS = 50.0
NOW_TARGET_MS = 100.0
SERVICES = 1000
SEED = 5  # fixed, so every run measures the same world

ZONES = ("America/New_York", "Europe/London", "Australia/Sydney", "Australia/Adelaide")
ROTATION_KINDS = (("daily", 1), ("weekly", 1), ("hourly", 12))
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)


def make_rotation(rng: random.Random, rotation_id: str, kind: str, length: int) -> Rotation:
    users = tuple(f"{rotation_id}-u{i}" for i in range(8))
    start = YEAR_START - timedelta(days=rng.randrange(400), hours=rng.randrange(24))
    return Rotation(rotation_id, kind, length, start, rng.choice(ZONES), users)


def make_rule(rng: random.Random, rotation_ids: list[str]) -> Rule:
    weekdays = frozenset(rng.sample(range(7), rng.randint(2, 7)))
    start, end = clock(rng.randrange(24), rng.choice((0, 30))), clock(rng.randrange(24))
    if rng.random() < 0.2:
        return Rule("user", f"user{rng.randrange(50)}", weekdays, start, end)
    return Rule("rotation", rng.choice(rotation_ids), weekdays, start, end)


def make_override(rng: random.Random) -> Override:
    start = YEAR_START + timedelta(minutes=rng.randrange(365 * 24 * 60))
    end = start + timedelta(hours=rng.randint(1, 72))
    user, other = f"user{rng.randrange(50)}", f"r{rng.randrange(3)}-u{rng.randrange(8)}"
    kind = rng.choice(("add", "remove", "replace"))
    return Override(
        kind,
        start,
        end,
        user if kind != "remove" else None,
        other if kind != "add" else None,
    )


def year_world() -> tuple[Schedule, dict[str, Rotation]]:
    rng = random.Random(SEED)
    rotations = {
        f"r{i}": make_rotation(rng, f"r{i}", kind, length)
        for i, (kind, length) in enumerate(ROTATION_KINDS)
    }
    rules = tuple(make_rule(rng, list(rotations)) for _ in range(10))
    overrides = tuple(make_override(rng) for _ in range(200))
    return Schedule("s", "America/New_York", rules, overrides), rotations


def services_world() -> tuple[list[Schedule], dict[str, Rotation]]:
    rng = random.Random(SEED)
    rotations = {}
    for i in range(30):
        kind, length = ROTATION_KINDS[i % 3]
        rotations[f"r{i}"] = make_rotation(rng, f"r{i}", kind, length)
    ids = list(rotations)
    schedules = []
    for i in range(SERVICES):
        rules = tuple(make_rule(rng, ids) for _ in range(3))
        overrides = tuple(make_override(rng) for _ in range(2))
        schedules.append(Schedule(f"s{i}", rng.choice(ZONES), rules, overrides))
    return schedules, rotations


def time_ms(body: Callable[[], object], runs: int) -> list[float]:
    """Wall milliseconds of each of `runs` calls of `body`."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        body()
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(runs: int) -> list[Figure]:
    schedule, rotations = year_world()
    end = YEAR_START + timedelta(days=365)
    shifts = schedule_shifts(schedule, rotations, YEAR_START, end)
    year = time_ms(lambda: schedule_shifts(schedule, rotations, YEAR_START, end), runs)

    schedules, shared = services_world()
    now = YEAR_START + timedelta(days=137, hours=5, minutes=17)
    on_call = [on_call_now(s, shared, now) for s in schedules]
    every = time_ms(lambda: [on_call_now(s, shared, now) for s in schedules], runs)

    print_table(
        f"on-call computation, {runs} runs (ms)",
        ["measure", "median", "min", "max", "target"],
        [
            ["year of shifts (10 rules, 3x8, 200 overrides)", *_stats(year), "<= 50"],
            [f"on call now, {SERVICES} schedules", *_stats(every), "<= 100"],
        ],
    )
    print(f"  year: {len(shifts)} shifts; now: {sum(map(len, on_call))} users on call")
    return [
        Figure(NAME, "year of shifts, median", median(year), "ms", YEAR_TARGET_MS),
        Figure(NAME, f"on call now x{SERVICES}, median", median(every), "ms", NOW_TARGET_MS),
    ]


def _stats(values: list[float]) -> list[str]:
    return [fmt(median(values), "ms"), fmt(min(values), "ms"), fmt(max(values), "ms")]


def main() -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="timed runs (default 20)")
    return measure(parser.parse_args().runs)


if __name__ == "__main__":
    sys.exit(run_benchmark(NAME, main))
