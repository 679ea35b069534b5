"""Start real Klaxon processes as a user would, capture their JSON logs, never leak them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class KlaxonProcess:
    """A child process in its own session, with stdout/stderr captured to files."""

    def __init__(
        self, args: list[str], env: dict[str, str], log_dir: Path, name: str, cwd: Path = REPO
    ) -> None:
        self.name = name
        self.stdout_path = log_dir / f"{name}.out"
        self.stderr_path = log_dir / f"{name}.err"
        self.started = time.monotonic()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(
                args,
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid = self.popen.pid

    def wait(self, timeout: float) -> int:
        """Exit status, or fail the test if it is still running after `timeout` seconds."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} still running after {timeout:g}s; stderr:\n{self.stderr()[-3000:]}"
            ) from None

    def signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def log_events(self) -> list[dict[str, Any]]:
        """Every JSON log line the process wrote to stderr."""
        events = []
        for line in self.stderr().splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    events.append(event)
        return events

    def find_event(self, event: str, **fields: Any) -> dict[str, Any] | None:
        for entry in self.log_events():
            if entry.get("event") == event and all(entry.get(k) == v for k, v in fields.items()):
                return entry
        return None

    def descendants(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            return psutil.Process(self.pid).children(recursive=True)
        return []

    def kill_all(self) -> None:
        """SIGKILL the whole session: the process and everything it started."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)


def session_processes(pid: int) -> list[psutil.Process]:
    """Live processes in the session led by `pid` (what a Ctrl-C'd terminal would leave)."""
    found = []
    for proc in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error):
            if os.getsid(proc.pid) == pid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def klaxon_bin(name: str) -> str:
    return str(BIN / name)
