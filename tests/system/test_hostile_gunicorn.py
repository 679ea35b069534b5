"""Hostile input against a real gunicorn with its shipped config: bodies at each route's cap in
adversarial shapes, chunked on the wire; slow clients holding every app thread; and the probes,
which must answer within half a second through all of it (config/gunicorn_worker.py)."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from app.platform.body_limits import limit_for
from config.gunicorn_worker import CLIENT_READ_TIMEOUT
from tests.support.hostile import SHAPES, chunked
from tests.system.test_ingest_gunicorn import json_body_of, raw_exchange, status_of

pytestmark = pytest.mark.system

PROBE_SECONDS = 0.5  # what /livez and /readyz must answer within, whatever else is going on
REQUEST_SECONDS = 1.0  # generous bound for one hostile request (the bench measures precisely)
PROBES = ("/livez", "/readyz")
SLOW_CLIENTS = 24  # many more than one worker's four app threads
GENERIC = "/api/v2/generic/incoming"


@pytest.fixture
def web(klaxon_env: dict[str, str], start_web: Any) -> tuple[Any, int]:
    """gunicorn with two worker processes, as configured for production."""
    return start_web({**klaxon_env, "WEB_CONCURRENCY": "2"})


def timed_get(port: int, path: str) -> tuple[int, float, str]:
    """(status, seconds, body): the body says which check failed when a probe does."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
    finally:
        conn.close()
    return response.status, time.monotonic() - started, body


def probe_times(port: int, rounds: int) -> list[tuple[str, int, float]]:
    """Each probe `rounds` times: (path, status, seconds). Asserts every probe answered 200,
    with the failing answers' bodies as the message."""
    probes = [(path, *timed_get(port, path)) for _ in range(rounds) for path in PROBES]
    failed = [(path, status, body) for path, status, _, body in probes if status != 200]
    assert failed == [], failed
    return [(path, status, seconds) for path, status, seconds, _ in probes]


def chunked_head(path: str, content_type: str, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: klaxon\r\nContent-Type: {content_type}\r\n{extra}"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()


@pytest.fixture
def one_worker_web(klaxon_env: dict[str, str], start_web: Any) -> tuple[Any, int]:
    """gunicorn with one worker process. With two, which worker accepts each connection is the
    kernel's choice: one can take nearly all the slow clients and leave the other's threads free
    (this happened in CI), so "every app thread is held" would be luck rather than setup."""
    return start_web({**klaxon_env, "WEB_CONCURRENCY": "1"})


@pytest.fixture
def slow_clients(
    one_worker_web: tuple[Any, int], make_service: Any
) -> Iterator[list[socket.socket]]:
    """SLOW_CLIENTS connections that each sent a valid ingest head and 10 bytes of a 1,000-byte
    body, then stall: every app thread sits reading a body, and the rest wait in its queue."""
    _, port = one_worker_web
    token = make_service()["integration_key"]["token"]
    head = (
        f"POST {GENERIC}?token={token} HTTP/1.1\r\nHost: klaxon\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    sockets = []
    for _ in range(SLOW_CLIENTS):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(head + b'{"summary"')
        sockets.append(sock)
    yield sockets
    for sock in sockets:
        sock.close()


def test_probes_answer_promptly_while_every_app_thread_waits_on_a_slow_client(
    one_worker_web, slow_clients, make_service
):
    _, port = one_worker_web
    token = make_service()["integration_key"]["token"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        queued = pool.submit(
            raw_exchange,
            port,
            (
                f"POST {GENERIC}?token={token} HTTP/1.1\r\nHost: klaxon\r\nContent-Type: "
                "application/json\r\nContent-Length: 17\r\nConnection: close\r\n\r\n"
            ).encode(),
            [b'{"summary": "ok"}'],
        )
        probes = probe_times(port, rounds=5)
        # The ordinary request is still waiting for an app thread: the lane really was full.
        saturated = not queued.done()
        for sock in slow_clients:
            sock.close()  # the held threads get a 400 at once and serve the queue
        answer = queued.result(timeout=15)
    assert saturated
    assert status_of(answer) == 204
    assert [p for p, _, _ in probes] == list(PROBES) * 5
    assert max(t for _, _, t in probes) < PROBE_SECONDS, probes


def test_probes_answer_promptly_while_worst_case_bodies_are_in_flight(web, make_service):
    _, port = web
    token = make_service()["integration_key"]["token"]
    limit = limit_for("ingest")
    bodies = [(shape, shape.build(limit)) for shape in SHAPES]
    stop = threading.Event()
    answers: list[tuple[str, int, float]] = []

    def attack(offset: int) -> None:
        turn = offset
        while not stop.is_set():
            shape, body = bodies[turn % len(bodies)]
            query = f"?token={token}" if turn % 2 else "?token=x"
            started = time.monotonic()
            answer = raw_exchange(
                port, chunked_head(GENERIC + query, shape.content_type), chunked(body)
            )
            answers.append((shape.name, status_of(answer), time.monotonic() - started))
            turn += 1

    with ThreadPoolExecutor(max_workers=8) as pool:
        attackers = [pool.submit(attack, i) for i in range(8)]
        try:
            probes = probe_times(port, rounds=20)
        finally:
            stop.set()
        for attacker in attackers:
            attacker.result(timeout=30)
    assert len(answers) >= 8
    assert max(t for _, _, t in probes) < PROBE_SECONDS, probes
    assert [a for a in answers if a[1] >= 500 or a[2] > REQUEST_SECONDS] == []


ROUTES = (
    # (path, content types it is sent, whether the token in the query string is valid)
    (GENERIC, "ingest"),
    ("/api/v2/prometheusalertmanager/incoming", "ingest"),
    ("/api/v2/grafana/incoming", "ingest"),
    ("/api/v1/users", "api"),
    ("/api/v2/twilio/sms", "twilio"),
    ("/api/v2/slack/actions", "slack"),
    ("/admin/login", "admin"),
    ("/actions/x", "actions"),
)


def test_hostile_bodies_at_each_cap_chunked_on_the_wire_get_a_4xx_or_2xx_within_a_second(
    web, make_service, make_api_key
):
    _, port = web
    service = make_service()
    valid = {
        "ingest": f"?token={service['integration_key']['token']}",
        "api": "",
    }
    bearer = f"Authorization: Bearer {make_api_key('admin')}\r\n"
    problems = []
    for path, blueprint in ROUTES:
        body_limit = limit_for(blueprint)
        for shape in SHAPES:
            body = shape.build(body_limit)
            for with_key in (False, True):
                query = valid.get(blueprint, "") if with_key else "?token=x"
                extra = bearer if with_key and blueprint == "api" else ""
                started = time.monotonic()
                answer = raw_exchange(
                    port, chunked_head(path + query, shape.content_type, extra), chunked(body)
                )
                took = time.monotonic() - started
                status = status_of(answer)
                if status >= 500 or status == 413 or took > REQUEST_SECONDS:
                    problems.append((path, shape.name, with_key, status, round(took, 3)))
    assert problems == []


@pytest.mark.parametrize(
    ("path", "blueprint"), [(GENERIC, "ingest"), ("/api/v1/users", "api")], ids=["ingest", "api"]
)
def test_a_chunked_body_over_the_cap_is_413_on_the_wire(web, make_service, make_api_key, path,
                                                         blueprint):  # fmt: skip
    _, port = web
    token = make_service()["integration_key"]["token"]
    extra = f"Authorization: Bearer {make_api_key('admin')}\r\n" if blueprint == "api" else ""
    query = f"?token={token}" if blueprint == "ingest" else ""
    body = b'{"name": "' + b"x" * limit_for(blueprint) + b'"}'
    answer = raw_exchange(
        port, chunked_head(path + query, "application/json", extra), chunked(body)
    )
    assert status_of(answer) == 413
    assert json_body_of(answer)["code"] == "payload_too_large"
    assert json_body_of(answer)["details"] == {"max_bytes": limit_for(blueprint)}


def test_a_client_that_stops_sending_its_body_gets_a_408_and_frees_its_thread(web, make_service):
    _, port = web
    token = make_service()["integration_key"]["token"]
    head = (
        f"POST {GENERIC}?token={token} HTTP/1.1\r\nHost: klaxon\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=CLIENT_READ_TIMEOUT + 10) as sock:
        sock.sendall(head + b'{"summary"')
        answer = sock.recv(65536)  # blocks until the server gives up on the rest of the body
    took = time.monotonic() - started
    assert status_of(answer) == 408
    assert CLIENT_READ_TIMEOUT - 1 < took < CLIENT_READ_TIMEOUT + 5
