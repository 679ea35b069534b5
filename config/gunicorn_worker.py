"""gunicorn's gthread worker with a lane of its own for health probes.

Stock gthread accepts in the main thread and hands each connection to one pool of `threads`
threads, which waits for the request, reads its head and runs the app. While every pool
thread is busy (a slow query up to the statement timeout, a client trickling its body, a
big body being parsed), `/livez` waits in the pool's queue behind them: measured at 28.8 s,
after which the arbiter killed the worker for it.

This worker changes who waits where:

1. A new connection waits on the main thread's poller, not in a pool thread, until its first
   bytes arrive (as kept-alive connections already do), and is closed if none come within
   `keepalive` seconds.
2. When a connection turns readable, the main thread peeks at what arrived (MSG_PEEK, without
   blocking or consuming it). A complete request head for `GET`/`HEAD` `/livez` or `/readyz`
   with no body goes to a small probe pool; everything else to the app pool.
3. The probe pool never waits on a client: the head it parses is already in the kernel's
   buffer, and the answer is a few hundred bytes. /readyz waits at most its check patience
   (app.platform.health), so PROBE_THREADS threads answer any number of probes promptly.
4. Every read from a client socket has a timeout (CLIENT_READ_TIMEOUT): a client that stops
   sending mid-request frees its app thread with a 408 (app.platform.body_limits) instead of
   holding it.

The app pool stays `threads` wide: probes neither take its threads nor wait for one. CPU is the
one thing the lanes share (the GIL); every transform of request data is linear and bounded so
that no request holds it for long.
"""

from __future__ import annotations

import selectors
import socket
import time
from concurrent import futures
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

PROBE_THREADS = 2  # probes answer in about a millisecond; two cover a slow /readyz refresh
PROBE_PATHS = frozenset({b"/livez", b"/readyz"})
PEEK_BYTES = 4096  # a probe's whole head fits many times over (kubelet's is ~150 bytes)
CLIENT_READ_TIMEOUT = 10.0  # seconds one read from a client socket may block


def is_probe_head(data: bytes) -> bool:
    """Whether `data` starts with a complete, bodiless GET/HEAD request for a probe path."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return False
    request_line, _, headers = data[:end].partition(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3 or parts[0] not in (b"GET", b"HEAD"):
        return False
    if parts[1].split(b"?", 1)[0] not in PROBE_PATHS:
        return False
    lowered = headers.lower()
    return b"content-length" not in lowered and b"transfer-encoding" not in lowered


class _Conn(TConn):
    """A client connection whose blocking reads time out (gthread makes them wait forever)."""

    def init(self) -> None:
        super().init()  # gthread calls this before each request, after making the socket blocking
        self.sock.settimeout(CLIENT_READ_TIMEOUT)


class ProbeLaneWorker(ThreadWorker):
    """gthread, with probes served by their own threads (see the module doc)."""

    def init_process(self) -> None:
        # Before the base class's init_process, which loads the app and runs the loop.
        self.probe_pool = futures.ThreadPoolExecutor(PROBE_THREADS, thread_name_prefix="probe")
        super().init_process()

    def accept(self, listener: socket.socket) -> None:
        """Accept, then wait for the first bytes on the poller rather than in a pool thread."""
        try:
            client, address = listener.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return  # another worker took it, or the client gave up already
        self.nr_conns += 1
        conn = _Conn(self.cfg, client, address, listener.getsockname())  # non-blocking now
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(
            conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn)
        )

    def enqueue_req(self, conn: Any) -> None:
        """Hand a readable connection to the probe lane or the app lane."""
        pool = self.probe_pool if self._holds_probe(conn) else self.tpool
        done = pool.submit(self.handle, conn)
        done.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))

    def _holds_probe(self, conn: Any) -> bool:
        if self.cfg.is_ssl or (conn.parser is not None and conn.parser.unreader.buf.getvalue()):
            return False  # bytes we cannot peek at: the app lane reads them as usual
        try:
            return is_probe_head(conn.sock.recv(PEEK_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except OSError:
            return False  # nothing to peek, or the peer is gone: the app lane finds out

    def run(self) -> None:
        try:
            super().run()
        finally:
            self.probe_pool.shutdown(wait=False)

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.probe_pool.shutdown(wait=False)
        super().handle_quit(sig, frame)
