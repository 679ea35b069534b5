"""Helpers for end-to-end tests against running Klaxon processes: a JSON HTTP client for the web
process and raising an alert through the generic ingest endpoint."""

from __future__ import annotations

import http.client
import json
from typing import Any

HTTP_TIMEOUT = 10.0


class Http:
    """JSON requests to a running web process."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        sent = dict(headers or {})
        if self.token and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None and not isinstance(body, bytes):
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        elif isinstance(body, bytes):
            data = body
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            raw = response.read()
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
        finally:
            conn.close()
        kind = answer_headers.get("content-type", "")
        parsed: Any = json.loads(raw) if raw and "json" in kind else raw
        return response.status, parsed, answer_headers

    def api(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, parsed, _ = self.call(method, "/api/v1" + path, body)
        assert status == expect, f"{method} {path}: {status} {parsed!r}"
        return parsed


def raise_alert(port: int, token: str, summary: str) -> str:
    """Raise an alert through the generic ingest endpoint with integration key `token`; its id
    as the REST API and every payload spell it (a string). GoAlert's answer keeps a number."""
    status, body, _ = Http(port).call(
        "POST",
        "/api/v2/generic/incoming",
        {"summary": summary},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    assert status == 200, body
    assert isinstance(body["AlertID"], int), body
    return str(body["AlertID"])
