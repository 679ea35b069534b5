"""The engine heartbeat `klaxon:engine:heartbeat`: the engine writes, health reads.

See docs/architecture.md, Redis keys.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from redis import Redis

ENGINE_HEARTBEAT_KEY = "klaxon:engine:heartbeat"
# The key outlives this many cycles, so a missed beat or two is not mistaken for a dead engine.
HEARTBEAT_TTL_CYCLES = 3
HEARTBEAT_MIN_TTL = 15  # seconds


@dataclass(frozen=True)
class Heartbeat:
    instance: str
    pid: int
    leader_since: float  # unix time
    cycle_started: float  # unix time
    cycle_ended: float  # unix time
    cycles: int
    cycle_seconds: float  # configured cycle length

    def age(self, now: float | None = None) -> float:
        """Seconds since the last cycle ended."""
        return (time.time() if now is None else now) - self.cycle_ended


def write_heartbeat(client: Redis, beat: Heartbeat) -> None:
    ttl = max(HEARTBEAT_MIN_TTL, int(beat.cycle_seconds * HEARTBEAT_TTL_CYCLES) + 1)
    client.set(ENGINE_HEARTBEAT_KEY, json.dumps(asdict(beat)), ex=ttl)


def read_heartbeat(client: Redis) -> Heartbeat | None:
    raw = client.get(ENGINE_HEARTBEAT_KEY)
    if raw is None:
        return None
    data: dict[str, Any] = json.loads(raw)
    return Heartbeat(**{k: data[k] for k in Heartbeat.__dataclass_fields__})
