"""A small threaded HTTP server that records requests, for the fakes of Twilio and Slack."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from tests.support.wait import wait_until

F = TypeVar("F")  # a fake's own description of a failure


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float

    def form(self) -> dict[str, str]:
        """The urlencoded form body, one value per name."""
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # JSON-encoded unless bytes
    headers: dict[str, str] | None = None
    hang: bool = False  # hold the request until the server stops


class RecordingServer(Generic[F]):
    """Subclasses implement `answer(request) -> Answer`. `start()` binds 127.0.0.1:<free>.

    Failures of the subclass's own kind `F` can be injected: `failure` fails every request while
    set; `fail_next(f, times)` fails only the next few. `_injected()` says which applies now.
    """

    def __init__(self) -> None:
        self.failure: F | None = None
        self._fail_next: list[F] = []
        self.received: list[Request] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Request(
                    self.command,
                    parts.path,
                    {k: v[-1] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                    time.time(),
                )
                with server._lock:
                    server.received.append(request)
                answer = server.answer(request)
                if answer.hang:
                    server._stopping.wait(60)
                    return
                body = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body)
                raw = body if isinstance(body, bytes) else body.encode()
                self.send_response(answer.status)
                for name, value in (answer.headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def answer(self, request: Request) -> Answer:
        raise NotImplementedError  # each fake answers as the service it stands in for

    def fail_next(self, failure: F, times: int = 1) -> None:
        with self._lock:
            self._fail_next.extend([failure] * times)

    def _injected(self) -> F | None:
        with self._lock:
            if self._fail_next:
                return self._fail_next.pop(0)
        return self.failure

    def start(self) -> Any:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self, path_suffix: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.received if r.path.endswith(path_suffix)]

    def wait_for(self, count: int, path_suffix: str = "", timeout: float = 15.0) -> list[Request]:
        """At least `count` requests whose path ends with `path_suffix`."""
        wait_until(
            lambda: len(self.requests(path_suffix)) >= count,
            timeout=timeout,
            what=f"{count} request(s) to …{path_suffix}",
        )
        return self.requests(path_suffix)
