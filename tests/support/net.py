"""Network fault fixtures: closed ports, tarpits and a proxy that can be switched to blackhole."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from urllib.parse import parse_qs, urlsplit


def closed_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class Tarpit:
    """A socket that completes TCP handshakes (the kernel backlog) and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Tarpit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BlackholeProxy:
    """A TCP proxy to `target`; `blackhole()` stops moving bytes both ways, `heal()` resumes.

    While blackholed, connections stay open and accepted but nothing is forwarded — the peer
    looks alive and never answers, which is what a hung database looks like from outside.

    With `forward_first`, only that many connections are forwarded; later ones are accepted
    and held unanswered until `release()` (a database that hangs for new connections only,
    from a known point on).
    """

    def __init__(
        self, target_host: str, target_port: int | None = None, forward_first: int | None = None
    ) -> None:
        # A target_host with no port is a unix socket path (the embedded Postgres has no TCP).
        self.target: str | tuple[str, int] = (
            target_host if target_port is None else (target_host, target_port)
        )
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = int(self.listener.getsockname()[1])
        self._flowing = threading.Event()
        self._flowing.set()
        self._stop = threading.Event()
        self._forward_first = forward_first
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._released = threading.Event()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="blackhole-proxy", daemon=True)
        self._thread.start()

    def blackhole(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self._flowing.set()

    def release(self) -> None:
        """Forward the held connections and every later one."""
        self._released.set()

    def close(self) -> None:
        self._stop.set()
        self._flowing.set()
        self.listener.close()
        self._thread.join(5)
        with self._lock:
            for a, b in self._pairs:
                a.close()
                b.close()
        for held in self._held:
            held.close()

    def __enter__(self) -> BlackholeProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        self.listener.setblocking(False)
        sel.register(self.listener, selectors.EVENT_READ, None)
        while not self._stop.is_set():
            if not self._flowing.is_set():
                self._flowing.wait(0.05)
                continue
            while self._released.is_set() and self._held:
                self._forward(sel, self._held.pop())
            for key, _ in sel.select(timeout=0.05):
                if key.data is None:
                    self._accept(sel)
                else:
                    self._pump(sel, key.fileobj, key.data)  # type: ignore[arg-type]
        sel.close()

    def _accept(self, sel: selectors.BaseSelector) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        self.accepted += 1
        holding = self._forward_first is not None and not self._released.is_set()
        if holding and self.accepted > self._forward_first:  # type: ignore[operator]
            self._held.append(client)
            return
        self._forward(sel, client)

    def _forward(self, sel: selectors.BaseSelector, client: socket.socket) -> None:
        try:
            upstream = self._connect_upstream()
        except OSError:
            client.close()
            return
        for s in (client, upstream):
            s.setblocking(False)
        with self._lock:
            self._pairs.append((client, upstream))
        sel.register(client, selectors.EVENT_READ, upstream)
        sel.register(upstream, selectors.EVENT_READ, client)

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.target, str):
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.settimeout(5)
            upstream.connect(self.target)
            return upstream
        return socket.create_connection(self.target, timeout=5)

    def _pump(self, sel: selectors.BaseSelector, src: socket.socket, dst: socket.socket) -> None:
        try:
            data = src.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            for s in (src, dst):
                with contextlib.suppress(KeyError, ValueError):
                    sel.unregister(s)
                s.close()
            return
        dst.setblocking(True)
        with contextlib.suppress(OSError):
            dst.sendall(data)
        dst.setblocking(False)


def tcp_target(url: str) -> tuple[str, int | None]:
    """Where a BlackholeProxy must forward to reach the Postgres at `url`."""
    parts = urlsplit(url)
    if parts.hostname:
        return parts.hostname, parts.port or 5432
    socket_dir = parse_qs(parts.query)["host"][0]
    port = parts.port or 5432
    return f"{socket_dir}/.s.PGSQL.{port}", None
