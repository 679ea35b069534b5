"""The shared first phase of every Klaxon process: settings, logging, preflight.

See docs/architecture.md, Startup.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

import structlog

from app.platform.fatal import clear_fatal, report_fatal
from app.platform.preflight import Check, run_preflight
from app.platform.redis_client import make_redis
from config.logging import configure_logging
from config.settings import (
    ConfigError,
    Settings,
    load_settings,
    redis_tls_for_reports,
    redis_url_for_reports,
)
from config.settings import instance_name as current_instance

log = structlog.get_logger(__name__)

EXIT_CHECK_FAILED = 1
EXIT_BAD_CONFIG = 2
# A fatal report written while the real settings are unusable lives this long (seconds).
_CONFIG_FATAL_TTL = 24 * 3600
_CONFIG_FATAL_TIMEOUT = 2.0


def load_or_exit(process: str, *, dev: bool = False) -> Settings:
    """Settings for `process`, or one log line naming the bad variable and exit 2."""
    configure_logging(process=process)  # defaults until the real level/format are known
    try:
        settings = load_settings(dev=dev)
    except ConfigError as exc:
        # The same line every other check logs (docs/architecture.md, Startup), so one log query
        # finds them all.
        log.error("preflight_check", check="config", status="fail", duration_ms=0.0, error=str(exc))
        _report_config_error(process, str(exc))
        sys.exit(EXIT_BAD_CONFIG)
    configure_logging(settings.log_level, settings.log_format, process=process)
    log.info("settings_loaded", **settings.redacted())
    return settings


def _report_config_error(process: str, error: str) -> None:
    if process not in ("worker", "engine"):
        return
    redis_url = redis_url_for_reports()
    if redis_url:
        report_fatal(
            redis_url,
            process,
            current_instance(),
            "config",
            error,
            _CONFIG_FATAL_TTL,
            _CONFIG_FATAL_TIMEOUT,
            redis_tls_for_reports(),
        )


def preflight_or_exit(settings: Settings, process: str, extra: Sequence[Check] = ()) -> None:
    """Run the preflight; on failure log, leave a fatal report and exit 1; on success clear it."""
    report = run_preflight(settings, extra)
    if not report.passed:
        first = report.failed[0]
        log.error(
            "preflight_failed",
            failed=[r.check for r in report.failed],
            check=first.check,
            error=first.error,
            duration_ms=report.duration_ms,
        )
        if "redis" in {r.check for r in report.failed}:
            # Redis just failed its own check: another attempt would only wait out the timeout.
            log.warning("fatal_report_not_recorded", reason="the redis check failed")
        else:
            report_fatal(
                settings.redis_url,
                process,
                settings.instance,
                first.check,
                first.error or "failed",
                settings.fatal_ttl,
                settings.check_timeout,
                settings.redis_tls,
            )
        fail(EXIT_CHECK_FAILED)
    log.info("preflight_passed", duration_ms=report.duration_ms)
    client = make_redis(settings.redis_url, settings.check_timeout, settings.redis_tls)
    clear_fatal(client, process, settings.instance)
    client.close()


def fail(code: int) -> NoReturn:
    """Exit now with `code`, even if a check's thread is still stuck on a dead peer."""
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
