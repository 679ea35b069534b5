"""Who is changing configuration in this transaction, and what: the `klaxon.audit` setting the
audit triggers read when the transaction commits (migrations/versions/0009_audit_log.py).

Declared with `SET LOCAL` semantics (`set_config(..., true)`), so it ends with the transaction and
never leaks to the next user of a pooled connection. A transaction that declares nothing is
recorded as actor `system`, named by its connection's application_name.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

ACTOR_TYPES = ("user", "api_key", "system")
SETTING = "klaxon.audit"


@dataclass(frozen=True)
class Declared:
    """What one transaction does, for its audit row.

    `target_type`/`target_id` name the main resource (a table name and its row's id); with
    `creates`, the first row the transaction inserts is the target instead (a POST to a
    collection; into `created_type` when that table got one), falling back to the declared
    target, then to the first changed row.
    """

    actor_type: str
    actor_id: str | None
    action: str
    target_type: str | None = None
    target_id: str | None = None
    creates: bool = False
    created_type: str | None = None

    def __post_init__(self) -> None:
        if self.actor_type not in ACTOR_TYPES:
            raise ValueError(f"actor_type must be one of {ACTOR_TYPES}, not {self.actor_type!r}")


def declare(conn: psycopg.Connection[Any], declared: Declared) -> None:
    """Declare who acts and what for the rest of this transaction (one round trip)."""
    conn.execute("SELECT set_config(%s, %s, true)", (SETTING, json.dumps(asdict(declared))))


def system(command: str) -> Declared:
    """A change made by a `klaxon` command (no person or key: whoever ran it on the host)."""
    return Declared("system", f"klaxon {command}", command.replace("-", "_"))
