"""`klaxon create-user | create-api-key | create-service | create-integration-key`.

Each command checks its arguments (a bad one exits 2 with a usage message, before any I/O),
loads the settings (exit 2 on bad configuration), and then, on one bounded database connection,
checks that the schema is at head and writes in one transaction. A conflict (an email or a
service name already taken) or an unknown service exits 1 with one line naming it.

Output: without `--json`, readable lines on stdout; with `--json`, exactly one JSON object on
stdout. Logs and errors go to stderr; on failure stdout stays empty. Times are RFC 3339, UTC.

Only the standard library is imported at module level: `klaxon --help` and the other commands
build this parser too, and must stay fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shlex
import sys
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    from config.settings import Settings

EXIT_OK = 0
EXIT_FAILED = 1  # a conflict, an unknown service, or the database is unreachable / not migrated
EXIT_USAGE = 2  # a bad argument or bad configuration

ROLES = ("user", "admin")
SCOPES = ("read", "write", "admin")
# The types an operator creates by hand; `email` keys arrive with inbound email.
CLI_INTEGRATION_TYPES = ("generic", "grafana", "prometheusAlertmanager")
MAX_NAME = 200  # characters, as the database's CHECK constraints allow
MAX_DESCRIPTION = 4096  # characters
MAX_EMAIL = 320  # characters (RFC 5321: 64 local + @ + 255 domain)
# A valid e-mail address as HTML forms define it (WHATWG): what people type, no quoted forms.
_EMAIL = re.compile(
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)
# Constraint names from migrations/versions/0002_alerting_core.py, and what a clash means.
_CONFLICTS = {
    "users_email_key": "a user with email {email!r} already exists",
    "services_name_key": "a service named {name!r} already exists",
}


class CommandFailed(Exception):
    """The command cannot do what was asked; the message says why (exit 1)."""


# -- arguments ---------------------------------------------------------------------------------


def add_admin_commands(sub: Any) -> None:
    """Add the create-* commands to `klaxon`'s subparsers."""
    p = sub.add_parser("create-user", help="create a user (a person who can be notified)")
    p.add_argument("--name", required=True, type=_name, metavar="N", help="display name")
    p.add_argument("--email", required=True, type=_email, metavar="E", help="e-mail address")
    role = p.add_mutually_exclusive_group()
    role.add_argument("--role", choices=ROLES, default="user", help="admin or user (default: user)")
    role.add_argument(
        "--admin", action="store_const", const="admin", dest="role", help="same as --role admin"
    )
    p.add_argument(
        "--time-zone",
        type=_time_zone,
        default="UTC",
        metavar="TZ",
        help="IANA time zone, e.g. Europe/Berlin (default: UTC)",
    )
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the user's sign-in password from the first line of standard input",
    )
    _json_flag(p)
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("create-api-key", help="create an API key for /api/v1 (shown only once)")
    p.add_argument("--name", required=True, type=_name, metavar="N", help="what the key is for")
    p.add_argument("--scope", required=True, choices=SCOPES, help="read, write or admin")
    _json_flag(p)
    p.set_defaults(func=cmd_create_api_key)

    p = sub.add_parser(
        "create-service", help="create a service with a generic integration key; print its URL"
    )
    p.add_argument("--name", required=True, type=_name, metavar="N", help="unique service name")
    p.add_argument("--description", type=_description, default="", metavar="D")
    _json_flag(p)
    p.set_defaults(func=cmd_create_service)

    p = sub.add_parser(
        "create-integration-key", help="add an integration key to a service; print its URL"
    )
    p.add_argument("--service", required=True, type=_service_id, metavar="ID", help="service id")
    p.add_argument("--type", required=True, choices=CLI_INTEGRATION_TYPES, dest="key_type")
    _json_flag(p)
    p.set_defaults(func=cmd_create_integration_key)


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout and nothing else"
    )


def _name(value: str) -> str:
    value = value.strip()
    if not value:
        raise argparse.ArgumentTypeError("must not be blank")
    if len(value) > MAX_NAME:
        raise argparse.ArgumentTypeError(f"is {len(value)} characters; at most {MAX_NAME}")
    if not value.isprintable():
        raise argparse.ArgumentTypeError("must not contain control characters")
    return value


def _description(value: str) -> str:
    if len(value) > MAX_DESCRIPTION:
        raise argparse.ArgumentTypeError(f"is {len(value)} characters; at most {MAX_DESCRIPTION}")
    return value.strip()


def _email(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_EMAIL or not _EMAIL.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an e-mail address (name@example.com)")
    return value


def _time_zone(value: str) -> str:
    if value not in _time_zones():
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)"
        )
    return value


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def _service_id(value: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a service id (a UUID, as `klaxon create-service` prints)"
        ) from None


# -- commands ----------------------------------------------------------------------------------


def cmd_create_user(args: argparse.Namespace) -> int:
    from app.directory import users

    password_hash = _password_from_stdin("create-user") if args.password_stdin else None
    if password_hash == "":
        return EXIT_USAGE

    def create(conn: psycopg.Connection[Any], settings: Settings) -> dict[str, Any]:
        row = users.create_user(conn, args.name, args.email, args.role, args.time_zone)
        if password_hash:
            users.set_password_hash(conn, row["id"], password_hash)
        return _pick(row, "id", "name", "email", "role", "time_zone", "created_at")

    def describe(user: dict[str, Any], public_url: str) -> str:
        text = _describe_user(user, public_url)
        if not password_hash:
            return text
        return f"{text}\n  password:  set; sign in at {public_url}/admin/login"

    return _run(args, "create-user", create, describe)


def cmd_create_api_key(args: argparse.Namespace) -> int:
    from app.directory import api_keys

    def create(conn: psycopg.Connection[Any], settings: Settings) -> dict[str, Any]:
        row = api_keys.create_api_key(conn, args.name, args.scope)
        return _pick(row, "id", "name", "scope", "key", "created_at")

    return _run(args, "create-api-key", create, _describe_api_key)


def cmd_create_service(args: argparse.Namespace) -> int:
    from app.directory import services

    def create(conn: psycopg.Connection[Any], settings: Settings) -> dict[str, Any]:
        row = services.create_service_with_key(
            conn, args.name, settings.public_url, args.description
        )
        return {
            **_pick(row, "id", "name", "description", "created_at"),
            "integration_key": _integration_key(row["integration_key"]),
        }

    return _run(args, "create-service", create, _describe_service)


def cmd_create_integration_key(args: argparse.Namespace) -> int:
    import psycopg

    from app.directory import integration_keys

    def create(conn: psycopg.Connection[Any], settings: Settings) -> dict[str, Any]:
        try:
            row = integration_keys.create_integration_key(conn, args.service, args.key_type)
        except psycopg.errors.ForeignKeyViolation:
            raise CommandFailed(f"no service with id {args.service}") from None
        row["url"] = integration_keys.integration_url(
            settings.public_url, row["type"], row["token"]
        )
        return _integration_key(row)

    return _run(args, "create-integration-key", create, _describe_integration_key)


def _password_from_stdin(command: str) -> str:
    """The Argon2id hash of the password on stdin's first line, or "" after printing why it
    cannot be used (a usage error: nothing was written). Hashed before any database I/O, so the
    password never travels further than this process."""
    from app.directory import passwords

    line = sys.stdin.readline().rstrip("\r\n")
    try:
        return passwords.hash_password(line)
    except passwords.WeakPassword as exc:
        print(f"klaxon {command}: error: the password on standard input {exc}", file=sys.stderr)
        return ""


def _integration_key(row: dict[str, Any]) -> dict[str, Any]:
    return _pick(row, "id", "service_id", "type", "token", "url")


def _pick(row: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: _jsonable(row[name]) for name in names}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    return value


def rfc3339(moment: datetime) -> str:
    """`moment` in UTC as RFC 3339, e.g. 2026-01-31T09:15:02.123456Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- the shared run: settings, bounded connection, schema check, one transaction ----------------


def _run(
    args: argparse.Namespace,
    command: str,
    create: Callable[[psycopg.Connection[Any], Settings], dict[str, Any]],
    describe: Callable[[dict[str, Any], str], str],
) -> int:
    from app.platform.bounded import DeadlineExceeded, run_bounded
    from app.platform.startup import load_or_exit

    settings = load_or_exit("cli")  # exits 2 on bad configuration
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin chatter, on every run

    def work() -> dict[str, Any]:
        from app.audit import context as audit_context

        with _connection(settings) as conn, conn.transaction():
            audit_context.declare(conn, audit_context.system(command))  # the audit row's actor
            return create(conn, settings)

    try:
        # The connect, the schema check and the write each have their own timeout; this is the
        # backstop for a server that accepts and then never answers.
        result = run_bounded(work, settings.preflight_timeout, name=command)
    except CommandFailed as exc:
        return _fail(command, str(exc))
    except DeadlineExceeded:
        return _fail(
            command, f"database: no answer within {settings.preflight_timeout:g}s; is it up?"
        )
    except Exception as exc:
        return _fail(command, _describe_failure(exc, args))
    if args.json:
        print(json.dumps(result))
    else:
        print(describe(result, settings.public_url))
    return EXIT_OK


@contextmanager
def _connection(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    """A dict-row connection to a database whose schema is at head; raises CommandFailed."""
    import psycopg
    from psycopg.rows import dict_row

    from app.platform import migrate, postgres

    timeout = settings.check_timeout
    try:
        conn = postgres.connect(
            settings.database_url,
            timeout,
            application_name="klaxon-cli",
            row_factory=dict_row,
        )
    except psycopg.OperationalError as exc:
        raise CommandFailed(
            f"database: {postgres.describe_error(exc)} — is Postgres running? check DATABASE_URL"
        ) from None
    try:
        state = migrate.schema_state(conn, timeout)
        if not state.at_head:
            raise CommandFailed(migrate.describe(state))
        yield conn
    finally:
        conn.close()


def _describe_failure(exc: Exception, args: argparse.Namespace) -> str:
    import psycopg

    from app.platform import postgres

    if isinstance(exc, psycopg.errors.UniqueViolation):
        template = _CONFLICTS.get(exc.diag.constraint_name or "")
        if template:
            return template.format(**vars(args))
    if isinstance(exc, psycopg.Error | TimeoutError):
        return f"database: {postgres.describe_error(exc)}"
    return f"{type(exc).__name__}: {exc}"


def _fail(command: str, message: str) -> int:
    print(f"klaxon {command}: error: {message}", file=sys.stderr)
    return EXIT_FAILED


# -- human-readable output ----------------------------------------------------------------------


def _describe_user(user: dict[str, Any], _public_url: str) -> str:
    return "\n".join(
        [
            f"Created user {user['name']} <{user['email']}>",
            f"  id:        {user['id']}",
            f"  role:      {user['role']}",
            f"  time zone: {user['time_zone']}",
        ]
    )


def _describe_api_key(key: dict[str, Any], public_url: str) -> str:
    return "\n".join(
        [
            f"Created API key {key['name']!r} with scope {key['scope']}",
            f"  id:  {key['id']}",
            f"  key: {key['key']}",
            "",
            "Store the key now: Klaxon keeps only its hash and cannot show it again.",
            "Send it as `Authorization: Bearer <key>`, e.g.:",
            f"  curl -H 'Authorization: Bearer {key['key']}' {public_url}/api/v1/alerts",
        ]
    )


def _describe_service(service: dict[str, Any], _public_url: str) -> str:
    key = service["integration_key"]
    return "\n".join(
        [
            f"Created service {service['name']!r}",
            f"  id: {service['id']}",
            "",
            _describe_integration_key(key),
        ]
    )


def _describe_integration_key(key: dict[str, Any], _public_url: str = "") -> str:
    lines = [
        f"Integration key ({key['type']}), shown only now:",
        f"  id:    {key['id']}",
        f"  token: {key['token']}",
        f"  URL:   {key['url']}",
        "",
        *_how_to_send(key["type"], key["url"]),
    ]
    return "\n".join(lines)


def _how_to_send(key_type: str, url: str) -> list[str]:
    if key_type == "grafana":
        return ["In Grafana, add a contact point of type Webhook with the URL above."]
    if key_type == "prometheusAlertmanager":
        return [
            "In alertmanager.yml:",
            "  receivers:",
            "    - name: klaxon",
            "      webhook_configs:",
            f"        - url: {shlex.quote(url)}",
        ]
    from app.directory.integration_keys import test_alert_curl

    return ["Raise a test alert:", f"  {test_alert_curl(url)}"]
