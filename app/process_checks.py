"""Process-specific preflight checks, on top of the core ones (DESIGN §1.1).

The worker checks each *configured* notification provider here; providers arrive with the
notification-delivery work, so today no process adds checks of its own.
"""

from __future__ import annotations

from app.preflight import Check
from config.settings import Settings


def checks_for(process: str, settings: Settings) -> list[Check]:
    """Extra checks for `process` given what `settings` configures."""
    return []
