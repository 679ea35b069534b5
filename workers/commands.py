"""The thread that reads a worker's RQ command channel (`rq shutdown`, `kill-horse`, …).

RQ runs this with redis-py's `PubSubWorkerThread`, polling every 60 s, and stops it with that
class's `stop()`. From redis-py 8, `stop()` joins the thread with no timeout, so a worker
SIGTERMed while the thread waits exited only after the rest of that 60 s poll: far past
Heroku's 30 s. This thread polls briefly and its stop has a deadline, whatever the redis-py
or RQ version.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger(__name__)

# Seconds one poll of the channel may wait: the most a stop waits for the thread to notice.
POLL_INTERVAL = 0.5
# Seconds to wait after the connection to Redis failed before polling again (RQ waits 2 s).
RECONNECT_DELAY = 2.0
# Seconds stop() waits for the thread; a thread still stuck then is a daemon and dies with us.
STOP_TIMEOUT = 2.0


class CommandListener(threading.Thread):
    """Polls a subscribed PubSub; each message goes to the handler given at subscribe time."""

    def __init__(self, pubsub: Any) -> None:
        super().__init__(name="rq-commands", daemon=True)
        self.pubsub = pubsub
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_INTERVAL)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                if self._stopping.is_set():
                    return
                log.warning("worker_commands_unreachable", error=str(exc), retry_in=RECONNECT_DELAY)
                self._stopping.wait(RECONNECT_DELAY)
            except Exception:
                log.exception("worker_commands_failed")
                return

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Ask the thread to end and wait at most `timeout` seconds; True if it ended."""
        self._stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
        return not self.is_alive()


def listen_for_commands(
    connection: Any, channel: str, handler: Callable[[dict[str, Any]], None]
) -> CommandListener:
    """Subscribe to `channel` and start a listener thread for it."""
    pubsub = connection.pubsub()
    pubsub.subscribe(**{channel: handler})
    listener = CommandListener(pubsub)
    listener.start()
    return listener


def stop_listening(listener: CommandListener) -> None:
    """Stop the thread (bounded), then drop its connection; never waits past STOP_TIMEOUT."""
    if not listener.stop():
        log.warning("worker_commands_stop_timed_out", timeout=STOP_TIMEOUT)
    try:
        listener.pubsub.close()
    except Exception as exc:  # closing a broken connection must not fail the shutdown
        log.warning("worker_commands_close_failed", error=str(exc))
