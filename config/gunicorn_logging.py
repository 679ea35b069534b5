"""gunicorn's error and access logs through Klaxon's structlog pipeline.

Access lines carry the path without its query string: ingest tokens travel in query strings,
and a token in a log is a leaked token.

In JSON mode an access line is rendered here directly, with the same keys the structlog
pipeline would give it: the pipeline cost 12% of web's CPU under ingest load, one line per
request being the hottest log call there is.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from typing import Any

import structlog
from gunicorn.glogging import Logger

access_log = structlog.get_logger("gunicorn.access")

_direct = {"enabled": False, "process": "web"}
_write_lock = threading.Lock()


def render_access_directly(enabled: bool, process: str = "web") -> None:
    """JSON access lines bypass the structlog pipeline (see the module docstring)."""
    _direct.update(enabled=enabled, process=process)


def _write_json_line(fields: dict[str, Any]) -> None:
    fields.update(
        event="http_request",
        process=_direct["process"],
        level="info",
        logger="gunicorn.access",
        timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )
    line = json.dumps(fields) + "\n"
    with _write_lock:  # gthread workers: one line at a time
        sys.stderr.write(line)
        sys.stderr.flush()


class StructlogGunicornLogger(Logger):
    """Routes gunicorn.error through the root handler and writes access lines as events."""

    def setup(self, cfg: Any) -> None:
        self.cfg = cfg
        for name in ("gunicorn.error", "gunicorn.access"):
            logger = logging.getLogger(name)
            logger.handlers[:] = []
            logger.propagate = True
        self.error_log = logging.getLogger("gunicorn.error")
        self.error_log.setLevel(logging.INFO)
        self.access_log = logging.getLogger("gunicorn.access")
        self.access_log.setLevel(logging.INFO)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log.isEnabledFor(logging.INFO):
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        fields = {
            "method": environ.get("REQUEST_METHOD"),
            "path": redact_path(environ.get("PATH_INFO") or ""),  # never QUERY_STRING
            "status": int(status),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "bytes": getattr(resp, "sent", None),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "request_id": _request_id(resp),
        }
        if _direct["enabled"]:
            _write_json_line(fields)
        else:
            access_log.info("http_request", **fields)

    def reopen_files(self) -> None:
        """Logs go to stderr only; nothing to reopen."""


# Paths whose last segment is a secret: a heartbeat monitor check-in carries its secret,
# a calendar feed's token (`/calendar/<token>.ics`) is its subscription's, an acknowledge/close
# link's token (`/actions/<token>`) acts on an alert.
_SECRET_PATH = re.compile(
    r"^(/(?:api/v2|v1/api)/heartbeat/|/calendar/|/actions/|/auth/(?:invitation|password-reset)/)"
    r"[^/]+"
)


def redact_path(path: str) -> str:
    """The request path with secrets in it replaced by `<id>`."""
    return _SECRET_PATH.sub(r"\1<id>", path)


def _request_id(resp: Any) -> str | None:
    for name, value in getattr(resp, "headers", []) or []:
        if name.lower() == "x-request-id":
            return str(value)
    return None
