"""The system page of the administration: `/admin/system`, the truth of /healthz for a person.

It shows the very checks /healthz runs (the web process's HealthChecks, SYSTEM_CHECKS: same
verdicts, same bounded, shared calls), then what they looked at, item by item, through the
same module's bounded `details()`: each worker with its queues and last heartbeat, every fatal
report a process wrote when it could not start (its full text), the engine's leader and its
cycle lag, and each queue's depth and oldest job; with a link to the mounted rq-dashboard. A
dependency that hangs makes the page say so within the check timeout, never hang it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from flask import Response

from app.http.health import started_runtime
from app.http.pages.admin_base import ADMIN, admin, admin_page
from app.http.pages.base import pages_blueprint
from app.platform.health import SYSTEM_CHECKS, DetailsUnavailable, SystemDetails

log = structlog.get_logger(__name__)

SYSTEM = ADMIN + "/system"


@pages_blueprint.get(SYSTEM)
def admin_system() -> Response:
    """Every health check with its status and detail, and what lies behind them."""
    admin()
    health = started_runtime().health
    status, checks = health.evaluate(SYSTEM_CHECKS)
    details: SystemDetails | None = None
    missing = ""
    try:
        details = health.details()
    except DetailsUnavailable as exc:
        missing = str(exc)
        log.warning("system_page_details_unavailable", reason=missing)
    return admin_page(
        "pages/admin_system.html", "system", "System",
        overall=status, checks={name: found[0] for name, found in checks.items()},
        details=details, missing=missing, now=datetime.now(UTC), inf=float("inf"),
        leader_since=_unix(details.engine.leader_since) if details and details.engine else None,
        cycle_ended=_unix(details.engine.cycle_ended) if details and details.engine else None,
    )  # fmt: skip


def _unix(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
