"""Tiny HTTP client for probing Klaxon from tests: every request has a timeout."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    seconds: float


def get(port: int, path: str, timeout: float = 10.0) -> Answer:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        raw = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()
    body = json.loads(raw) if raw else {}
    return Answer(response.status, body, headers, time.monotonic() - started)
