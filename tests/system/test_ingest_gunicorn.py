"""Ingest through a real gunicorn, as senders reach it: concurrency, chunked and oversized bodies
on the wire, and tokens that never reach the logs."""

from __future__ import annotations

import base64
import http.client
import json
import signal
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from app.ingest.body import MAX_BODY
from tests.fixtures.ingest import new_key, raw

pytestmark = pytest.mark.system

GENERIC = "/api/v2/generic/incoming"
ALERTMANAGER = "/api/v2/prometheusalertmanager/incoming"
CONCURRENT = 100
HTTP_TIMEOUT = 30.0  # seconds for one request, far beyond what any should take


def request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def raw_exchange(port: int, head: bytes, chunks: list[bytes]) -> bytes:
    """Send a request head and body pieces on a raw socket; return the one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking the rest
        return read_response(sock)


def read_response(sock: socket.socket) -> bytes:
    """One HTTP response: its head, then as many body bytes as Content-Length says."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        data = sock.recv(65536)
        if not data:
            return answer
        answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        data = sock.recv(65536)
        if not data:
            break
        body += data
    return head + b"\r\n\r\n" + body


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def json_body_of(answer: bytes) -> dict[str, Any]:
    body = answer.split(b"\r\n\r\n", 1)[1]
    data: dict[str, Any] = json.loads(body)
    return data


@pytest.fixture
def web(klaxon_env: dict[str, str], start_web: Any) -> tuple[Any, int]:
    """gunicorn with two worker processes, as configured for production."""
    return start_web({**klaxon_env, "WEB_CONCURRENCY": "2"})


def test_100_concurrent_identical_requests_make_one_alert_and_no_5xx(
    web, database_url, make_service
):
    _, port = web
    token = make_service()["integration_key"]["token"]
    body = json.dumps({"summary": "CPU hot on web-1", "details": "load 42"}).encode()
    start = threading.Barrier(CONCURRENT)

    def send(_: int) -> int:
        start.wait(HTTP_TIMEOUT)
        return request(
            port,
            "POST",
            GENERIC,
            body,
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )[0]

    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        statuses = list(pool.map(send, range(CONCURRENT)))

    assert statuses == [204] * CONCURRENT
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        rows = conn.execute("SELECT status, duplicate_count FROM alerts").fetchall()
        logs = conn.execute(
            "SELECT event, count(*) AS n, sum((meta->>'count')::int) AS counted"
            " FROM alert_logs GROUP BY event ORDER BY event"
        ).fetchall()
    assert rows == [{"status": "triggered", "duplicate_count": CONCURRENT - 1}]
    created, repeats = logs
    assert (created["event"], created["n"]) == ("created", 1)
    # Repeats coalesce into one entry a minute (two if the burst straddled a minute's edge),
    # whose counts add up to every repeat.
    assert repeats["event"] == "duplicate_suppressed" and repeats["n"] in (1, 2)
    assert repeats["counted"] == CONCURRENT - 1


def chunked(data: bytes, size: int = 16 * 1024) -> list[bytes]:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]


def chunked_head(path: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: klaxon\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()


def test_chunked_body_over_the_limit_is_413_on_the_wire(web, database_url, make_service):
    _, port = web
    token = make_service()["integration_key"]["token"]
    big = json.dumps({"summary": "big", "details": "x" * MAX_BODY}).encode()
    answer = raw_exchange(port, chunked_head(f"{GENERIC}?token={token}"), chunked(big))
    assert status_of(answer) == 413
    assert json_body_of(answer)["code"] == "payload_too_large"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (0,)


def test_chunked_body_within_the_limit_arrives_whole(web, database_url, make_service):
    _, port = web
    token = make_service()["integration_key"]["token"]
    details = "y" * 5000
    body = json.dumps({"summary": "chunked", "details": details}).encode()
    answer = raw_exchange(port, chunked_head(f"{GENERIC}?token={token}"), chunked(body, 1000))
    assert status_of(answer) == 204
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT details FROM alerts").fetchone() == (details,)


def test_declared_oversize_is_refused_without_reading_the_body(web, make_service):
    _, port = web
    token = make_service()["integration_key"]["token"]
    head = (
        f"POST {GENERIC}?token={token} HTTP/1.1\r\nHost: klaxon\r\n"
        f"Content-Type: application/json\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = raw_exchange(port, head, [b"{" + b" " * 1024])  # never sends the other 50 MiB
    assert status_of(answer) == 413
    assert time.monotonic() - started < 5  # answered at once, not after waiting for the body


def test_alertmanager_round_trip_through_gunicorn(web, db_conn, make_service):
    _, port = web
    token = new_key(db_conn, make_service()["id"], "prometheusAlertmanager")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for name in ("alertmanager_firing.json", "alertmanager_resolved.json"):
        assert request(port, "POST", ALERTMANAGER, raw(name), headers)[0] == 200
    rows = db_conn.execute("SELECT status FROM alerts").fetchall()
    assert [r["status"] for r in rows] == ["closed", "closed"]


def test_ingest_tokens_never_reach_the_logs(web, db_conn, make_service):
    proc, port = web
    service = make_service()
    token = service["integration_key"]["token"]
    revoked = new_key(db_conn, service["id"], "generic")
    db_conn.execute(
        "UPDATE integration_keys SET revoked_at = now() WHERE id = %s", (revoked.split("_")[1],)
    )
    unknown = f"kli_{uuid.uuid4().hex}_UnknownSecretValue1234567890abcd"
    basic = base64.b64encode(f"user:{token}".encode()).decode()
    form = f"summary=form&token={token}".encode()
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    calls: list[tuple[str, bytes, dict[str, str]]] = [
        (f"{GENERIC}?token={token}&summary=query", b"", {}),
        (f"{GENERIC}?integrationKey={token}&summary=q2", b"", {}),
        (GENERIC, form, form_type),
        (f"{GENERIC}?summary=bearer", b"", {"Authorization": f"Bearer {token}"}),
        (f"{GENERIC}?summary=basic", b"", {"Authorization": f"Basic {basic}"}),
        (f"{GENERIC}?token={unknown}&summary=unknown", b"", {}),
        (f"{GENERIC}?summary=revoked", b"", {"Authorization": f"Bearer {revoked}"}),
        (f"{GENERIC}?token={token}", b"{broken", {"Content-Type": "application/json"}),
        (f"{GENERIC}?token={token}&summary=x&action=explode", b"", {}),
        (f"{ALERTMANAGER}?token={token}", raw("alertmanager_firing.json"), {}),
    ]
    statuses = [request(port, "POST", path, body, headers)[0] for path, body, headers in calls]
    assert statuses == [204, 204, 204, 204, 204, 401, 401, 400, 400, 401]

    proc.signal(signal.SIGTERM)
    proc.wait(30)
    logs = proc.stderr() + proc.stdout()
    assert '"path": "/api/v2/generic/incoming"' in logs  # the access log did record them
    for secret in (token, revoked, unknown, basic):
        assert secret not in logs
        assert secret.split("_", 2)[-1] not in logs
