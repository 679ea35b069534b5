"""One structlog pipeline for Klaxon, gunicorn and RQ: JSON lines, or console text on a TTY.

Standard-library loggers (gunicorn, rq, alembic) are routed through the same renderer, so every
line a Klaxon process writes to stderr is one JSON object with `event`, `level` and `timestamp`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

# Keys whose values are never written, whatever logs them.
SECRET_KEYS = frozenset({"password", "token", "secret", "secret_key", "authorization", "key"})


def _redact_secrets(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in SECRET_KEYS.intersection(event_dict):
        event_dict[key] = "***"
    return event_dict


def _add_process(process: str | None) -> Any:
    def add(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        if process:
            event_dict.setdefault("process", process)
        return event_dict

    return add


def _shared_processors(process: str | None = None) -> list[Any]:
    # The process name is a processor, not context: threads and forked children must carry it.
    return [
        _add_process(process),
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_secrets,
    ]


class _StderrHandler(logging.StreamHandler):
    """A stderr handler that lets a stop request through. RQ's SIGTERM handler raises
    StopRequested (an Exception) from whatever line is running; when that line is this
    handler's write, logging's handleError would swallow it and the worker would never stop."""

    def handleError(self, record: logging.LogRecord) -> None:
        if type(sys.exc_info()[1]).__name__ == "StopRequested":
            raise
        super().handleError(record)


def configure_logging(level: str = "info", fmt: str = "json", process: str | None = None) -> None:
    """Route structlog and the standard library through one renderer on stderr."""
    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    else:
        renderer = structlog.processors.JSONRenderer()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(process),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(level, logging.INFO))
    structlog.configure(
        processors=[
            *_shared_processors(process),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    _quiet_noisy_loggers()


def _quiet_noisy_loggers() -> None:
    for name in ("alembic", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)


def formatter_for_handlers() -> logging.Formatter | None:
    """The formatter configure_logging installed on the root logger, for other handlers."""
    handlers = logging.getLogger().handlers
    return handlers[0].formatter if handlers else None
