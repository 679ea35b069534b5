"""Reading the pages a benchmark's webhook receiver got: first page per alert, duplicates."""

from __future__ import annotations

import time
from collections import Counter

from common import KLAXON, WEB_COMMAND, OwnedProcesses, Stack, free_port, wait_for_200

from tests.support.fakes.webhook import WebhookReceiver

START_TIMEOUT = 60.0  # seconds for the stack to come up


def start_paging_stack(
    procs: OwnedProcesses, stack: Stack, env: dict[str, str], workers: int = 2
) -> int:
    """gunicorn, one engine and `workers` workers, healthy; return web's port."""
    port = free_port()
    web = procs.start(WEB_COMMAND, {**env, "PORT": str(port)}, "web")
    procs.start([KLAXON, "engine"], env, "engine")
    for n in range(workers):
        procs.start([KLAXON, "worker"], {**env, "DYNO": f"{stack.instance}.w{n}"}, "worker")
    if wait_for_200(web, port, "/healthz", START_TIMEOUT).ready is None:
        raise RuntimeError(f"the stack did not become healthy; logs in {stack.log_dir}")
    return port


def first_pages(receiver: WebhookReceiver) -> tuple[dict[int, float], int]:
    """{alert id: arrival of its first page}, and how many message ids arrived more than once."""
    first: dict[int, float] = {}
    ids: Counter[str] = Counter()
    for request in receiver.requests():
        ids[request.headers.get("x-klaxon-message-id", "")] += 1
        body = request.json()
        if body.get("kind") != "alert" or not body.get("alert"):
            continue
        alert_id = int(body["alert"]["id"])
        first[alert_id] = min(first.get(alert_id, request.at), request.at)
    return first, sum(1 for n in ids.values() if n > 1)


def wait_drained(receiver: WebhookReceiver, expected: set[int], timeout: float) -> None:
    """Return once every alert in `expected` has had a first page, or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if expected <= set(first_pages(receiver)[0]):
            return
        time.sleep(0.2)  # a benchmark's poll, bounded by the deadline
