"""`klaxon audit`: print the audit log of configuration changes, newest first.

The same filters as `GET /api/v1/audit` (actor, target, time), at most `--limit` events. Without
`--json`, one readable line per event (and one per changed row with `--changes`); with `--json`,
one JSON object per line, as the API shows an event. Exit 0 (even with no events), 1 when the
database cannot be read, 2 on a bad argument or bad configuration.

Only the standard library is imported at module level (`klaxon --help` builds this parser).
"""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import datetime
from typing import Any

from app.commands.create import EXIT_OK, _connection, _fail, _json_flag, rfc3339

ACTOR_TYPES = ("user", "api_key", "system")  # as app.audit.context.ACTOR_TYPES
DEFAULT_LIMIT = 50  # events printed when --limit is not given
MAX_LIMIT = 10_000  # events at most: one query, one screenful of pages, never the whole table


def add_audit_command(sub: Any) -> None:
    """Add `klaxon audit` to `klaxon`'s subparsers."""
    p = sub.add_parser("audit", help="print the audit log of configuration changes, newest first")
    p.add_argument("--actor-type", choices=ACTOR_TYPES, help="user, api_key or system")
    p.add_argument("--actor-id", type=_text, metavar="ID", help="a user's or API key's id")
    p.add_argument("--target-type", type=_text, metavar="TABLE", help="e.g. services, users")
    p.add_argument("--target-id", type=_text, metavar="ID", help="the target's id")
    p.add_argument("--since", type=_time, metavar="TIME", help="at or after (RFC 3339)")
    p.add_argument("--until", type=_time, metavar="TIME", help="before (RFC 3339)")
    p.add_argument(
        "--limit",
        type=_limit,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"print at most N events, 1..{MAX_LIMIT} (default: {DEFAULT_LIMIT})",
    )
    p.add_argument("--changes", action="store_true", help="also print each changed row")
    _json_flag(p)
    p.set_defaults(func=cmd_audit)


def _text(value: str) -> str:
    if not value or len(value) > 200 or not value.isprintable():
        raise argparse.ArgumentTypeError("must be 1..200 printable characters")
    return value


def _time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an RFC 3339 time with an offset (e.g. 2026-01-31T09:00:00Z)"
        )
    return moment


def _limit(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number from 1 to {MAX_LIMIT}")
    return number


def cmd_audit(args: argparse.Namespace) -> int:
    from app.audit import events
    from app.platform.bounded import DeadlineExceeded, run_bounded
    from app.platform.postgres import describe_error
    from app.platform.startup import load_or_exit

    settings = load_or_exit("cli")  # exits 2 on bad configuration
    where = events.EventFilter(
        limit=args.limit,
        actor_type=args.actor_type,
        actor_id=args.actor_id,
        target_type=args.target_type,
        target_id=args.target_id,
        since=args.since,
        until=args.until,
    )

    def read() -> list[dict[str, Any]]:
        with _connection(settings) as conn, conn.transaction():
            return events.list_events(conn, where)

    try:
        rows = run_bounded(read, settings.preflight_timeout, name="audit")
    except DeadlineExceeded:
        return _fail("audit", f"database: no answer within {settings.preflight_timeout:g}s")
    except Exception as exc:
        return _fail("audit", describe_error(exc))
    for row in rows:
        print(json.dumps(_jsonable(row)) if args.json else describe(row, args.changes))
    return EXIT_OK


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """The event as GET /api/v1/audit shows it (ids as text, times RFC 3339 UTC)."""
    shown = {
        key: rfc3339(value) if isinstance(value, datetime) else _plain(value)
        for key, value in row.items()
    }
    return {**shown, "id": str(row["id"])}


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def describe(row: dict[str, Any], with_changes: bool) -> str:
    """One event as a line: time, actor, action, target, how many rows changed."""
    actor = f"{row['actor_type']}:{row['actor_id'] or '-'}"
    target = f"{row['target_type']}/{row['target_id'] or '-'}"
    count = row["change_count"]
    line = (
        f"{rfc3339(row['at'])}  #{row['id']}  {actor}  {row['action']}  {target}"
        f"  ({count} row{'s' if count != 1 else ''} changed)"
    )
    if not with_changes:
        return line
    return "\n".join([line, *(f"    {_describe_change(change)}" for change in row["changes"])])


def _describe_change(change: dict[str, Any]) -> str:
    fields = change["after"] if change["op"] != "delete" else change["before"]
    shown = json.dumps(fields or {}, sort_keys=True, ensure_ascii=False)
    redacted = f" redacted={','.join(change['redacted'])}" if change["redacted"] else ""
    return f"{change['op']} {change['table']}/{change['id']} {shown}{redacted}"
