"""Where the test suite's embedded Postgres lives, and removing it (`make clean`).

Stdlib only: `make clean` runs this with the system Python, even before `.venv` exists.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STOP_WITHIN = 10.0  # seconds a stopping server may take before it is killed


def suite_postgres_dir() -> Path:
    """In memory (/dev/shm) where the machine has it — every test clones a database, which takes
    ~15 ms there and ~200 ms on disk — else under .klaxon/. One server per checkout (the path
    carries a hash of the repository's), so two checkouts' suites never share one."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        digest = hashlib.sha256(str(REPO).encode()).hexdigest()[:10]
        return shm / f"klaxon-test-postgres-{digest}"
    return REPO / ".klaxon" / "test-postgres"


def remove(data_dir: Path) -> bool:
    """Stop the server using `data_dir` (if one runs) and delete the folder; True if it existed."""
    if not data_dir.exists():
        return False
    pid = _postmaster_pid(data_dir)
    if pid is not None:
        _stop(pid)
    shutil.rmtree(data_dir, ignore_errors=True)
    return True


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stop(pid: int) -> None:
    """Postgres' fast shutdown (SIGINT), then SIGKILL if it overruns."""
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_WITHIN
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)  # polling a process we signalled, bounded by the deadline above
    os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    path = suite_postgres_dir()
    removed = remove(path)
    print(f"{'removed' if removed else 'no test Postgres at'} {path}", file=sys.stderr)
