"""The bounded client for operator-configured services (app.platform.outbound.operator): one
deadline covers connecting, the answer's headers and its body, however the peer misbehaves."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from app.platform.outbound.operator import MAX_ANSWER, Unreachable, request
from tests.support.net import Tarpit, closed_port

DEADLINE = 1.0
SLACK = 1.0  # seconds past the deadline a loaded machine may take to notice it


class RawServer:
    """A loopback TCP server answering every connection with `serve(conn)`, in its own thread."""

    def __init__(self, serve: Callable[[socket.socket, threading.Event], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.stopping = threading.Event()
        self._serve = serve
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                with contextlib.suppress(OSError):  # the client hung up first
                    self._serve(conn, self.stopping)

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket, threading.Event], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Callable[[socket.socket, threading.Event], None]) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def timed_failure(url: str) -> tuple[Unreachable, float]:
    started = time.monotonic()
    with pytest.raises(Unreachable) as failed:
        request("GET", url, time.monotonic() + DEADLINE)
    return failed.value, time.monotonic() - started


def test_a_peer_that_drips_its_answer_is_cut_off_at_the_deadline(serve) -> None:
    def drip(conn: socket.socket, stopping: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(200):  # a byte every 50 ms: never a read timeout, never done
            conn.sendall(b"x")
            if stopping.wait(0.05):
                return

    server = serve(drip)

    failure, seconds = timed_failure(f"http://127.0.0.1:{server.port}/")

    assert failure.timed_out
    assert DEADLINE * 0.9 <= seconds < DEADLINE + SLACK


def test_a_peer_that_sends_headers_then_stalls_is_cut_off_at_the_deadline(serve) -> None:
    def stall(conn: socket.socket, _stopping: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
        conn.recv(1)  # blocks until the client gives up and closes

    server = serve(stall)

    failure, seconds = timed_failure(f"http://127.0.0.1:{server.port}/")

    assert failure.timed_out and seconds < DEADLINE + SLACK


def test_a_tarpit_and_a_closed_port_are_told_apart() -> None:
    with Tarpit() as tarpit:
        hung, seconds = timed_failure(f"http://127.0.0.1:{tarpit.port}/x?secret=1")
    assert hung.timed_out and seconds < DEADLINE + SLACK
    refused, _ = timed_failure(f"http://127.0.0.1:{closed_port()}/x?secret=1")
    assert not refused.timed_out
    assert "secret" not in str(hung) + str(refused)  # paths and queries stay out of messages


def test_an_answer_past_the_size_limit_is_marked_incomplete(serve) -> None:
    size = MAX_ANSWER + 10_000

    def big(conn: socket.socket, _stopping: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size)

    server = serve(big)

    answer = request("GET", f"http://127.0.0.1:{server.port}/", time.monotonic() + 5)

    assert not answer.complete and len(answer.data) == MAX_ANSWER


def test_a_redirect_is_returned_not_followed(serve) -> None:
    def moved(conn: socket.socket, _stopping: threading.Event) -> None:
        conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/steal\r\nContent-Length: 0\r\n\r\n"
        )

    server = serve(moved)

    answer = request("GET", f"http://127.0.0.1:{server.port}/", time.monotonic() + 5)

    assert answer.status == 302 and answer.complete


def test_no_time_left_asks_nobody() -> None:
    with pytest.raises(Unreachable) as failed:
        request("GET", "http://127.0.0.1:1/", time.monotonic() - 1)
    assert failed.value.timed_out
