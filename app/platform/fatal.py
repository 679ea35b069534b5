"""Fatal init reports: `klaxon:fatal:<process>:<instance>` keys /healthz shows.

See docs/architecture.md, Redis keys.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from typing import Any

import structlog
from redis import Redis
from redis.exceptions import RedisError

from app.platform.redis_client import make_redis
from config.settings import RedisTls

log = structlog.get_logger(__name__)

FATAL_PREFIX = "klaxon:fatal:"


def fatal_key(process: str, instance: str) -> str:
    return f"{FATAL_PREFIX}{process}:{instance}"


def report_fatal(
    redis_url: str,
    process: str,
    instance: str,
    check: str,
    error: str,
    ttl: int,
    timeout: float,
    tls: RedisTls,
) -> bool:
    """Record a fatal init error; return False (and log why) when Redis cannot take it."""
    report = {
        "process": process,
        "instance": instance,
        "check": check,
        "error": error,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    try:
        client = make_redis(redis_url, timeout, tls)
        client.set(fatal_key(process, instance), json.dumps(report), ex=ttl)
        client.close()
    except (RedisError, OSError, ValueError) as exc:
        log.warning("fatal_report_not_recorded", reason=str(exc))
        return False
    return True


def clear_fatal(client: Redis, process: str, instance: str) -> None:
    """Delete this instance's stale report after a clean start."""
    client.delete(fatal_key(process, instance))


def list_fatal(client: Redis) -> list[dict[str, Any]]:
    """Every fatal report currently in Redis."""
    reports = []
    for key in client.scan_iter(match=f"{FATAL_PREFIX}*", count=100):
        raw = client.get(key)
        if raw is None:
            continue  # expired between SCAN and GET
        try:
            reports.append(json.loads(raw))
        except ValueError:
            reports.append({"key": key.decode(), "error": "unreadable report"})
    return reports
