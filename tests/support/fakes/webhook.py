"""A webhook receiver that records every request and answers as the test tells it to."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.wait import wait_until


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.time() when the request was complete

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Behaviour:
    """How the receiver answers: `status` (default 200), after `delay` seconds; `hang` holds
    the request until the receiver stops (a receiver that accepts and never answers)."""

    status: int = 200
    delay: float = 0.0
    hang: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'


class _Server(ThreadingHTTPServer):
    # A delivery job opens up to 16 connections at once (and a benchmark's two workers many
    # more); socketserver's default backlog of 5 would drop SYNs and cost 1 s retransmits.
    request_queue_size = 511
    daemon_threads = True


class WebhookReceiver:
    """`start()` binds 127.0.0.1:<free port>; `url(path)` is where to send; `stop()` ends it.
    With `tls`, it speaks HTTPS with that server context."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.scheme = "https" if tls else "http"
        self.received: list[Received] = []
        self.behaviour = Behaviour()
        # Optional per-request override: given the request, return a Behaviour (or None).
        self.decide: Callable[[Received], Behaviour | None] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out as two writes: without this, Nagle's algorithm and
                # the client's delayed ACK hold each answer back ~40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                request = Received(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.time(),
                )
                behaviour = (receiver.decide and receiver.decide(request)) or receiver.behaviour
                with receiver._lock:
                    receiver.received.append(request)
                if behaviour.hang:
                    receiver._stopping.wait(60)
                    return
                if behaviour.delay:
                    receiver._stopping.wait(behaviour.delay)
                self.send_response(behaviour.status)
                for name, value in behaviour.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(behaviour.body)))
                self.end_headers()
                self.wfile.write(behaviour.body)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def url(self, path: str = "/hook") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def requests(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if path is None or r.path == path]

    def wait_for(
        self, count: int, path: str | None = None, timeout: float = 15.0
    ) -> list[Received]:
        """At least `count` requests (to `path`, if given), waiting up to `timeout` seconds."""
        wait_until(
            lambda: len(self.requests(path)) >= count,
            timeout=timeout,
            what=f"{count} webhook request(s) to {path or 'any path'}",
        )
        return self.requests(path)
