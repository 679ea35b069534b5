"""Liveness promises of the worker and the engine, for container exec probes.

Each turn of a process's main loop writes, to a file in the temporary folder, the time until
which it promises to turn again (as RQ's worker key expires after its heartbeat's TTL). `klaxon
alive worker|engine` — a Kubernetes exec probe — fails once that time has passed: the loop is
stuck. It reads no settings and touches no network, so a Redis or Postgres outage (which the
process rides out on its own) never gets a healthy process restarted.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

ALIVE_PROCESSES = ("worker", "engine")


def alive_path(process: str) -> Path:
    """Where `process` keeps its promise: one per container (or dyno) and process type."""
    return Path(tempfile.gettempdir()) / f"klaxon-{process}.alive"


def promise(process: str, seconds: float) -> None:
    """Promise that `process` turns its loop again within `seconds`."""
    path = alive_path(process)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(f"{time.time() + seconds:.3f}\n")
    temporary.replace(path)  # atomic: a probe never reads half a number


def check_alive(process: str, now: float | None = None) -> str | None:
    """None while `process`'s promise holds, else what is wrong."""
    path = alive_path(process)
    try:
        deadline = float(path.read_text())
    except FileNotFoundError:
        return f"{process}: no liveness file {path} yet (still starting, or not running here)"
    except (OSError, ValueError) as exc:
        return f"{process}: unreadable liveness file {path} ({exc})"
    late = (time.time() if now is None else now) - deadline
    if late > 0:
        return f"{process}: main loop silent, {late:.0f}s past its promised turn ({path})"
    return None
